/**
 * Pool-group commands of the CLI (admin token; docs/capabilities.md "Regions and failover"):
 *   pool-groups create --name <group> --members <pool[@region][:weight],...> [--max-wait-s <s>]
 *   pool-groups list | get <group> | delete <group>
 *   pool-groups update <group> [--members ...] [--max-wait-s <s>|none]
 *   pool-groups region --tenant <tenant id> [<region>|none]   a tenant's region affinity
 */
import { parseArgs } from "node:util";
import { PoolGroup, type PoolGroupMember } from "@comfy-edge/shared/contract/pool-groups";
import { z } from "zod";
import { AdminClient } from "./admin-client.ts";
import { adminConfig, UsageError } from "./config.ts";

type Out = (line: string) => void;

export const POOL_GROUPS_USAGE = `Pool groups (admin; jobs target one with "pool": "group:<name>"; docs/capabilities.md):
  pool-groups create --name <group> --members <pool[@region][:weight],...> [--max-wait-s <s>]
  pool-groups list
  pool-groups get <group>
  pool-groups update <group> [--members <pool[@region][:weight],...>] [--max-wait-s <s>|none]
  pool-groups delete <group>
  pool-groups region --tenant <tenant id> [<region>|none]   show or set a tenant's region affinity`;

const OPTIONS = {
  name: { type: "string" },
  members: { type: "string" },
  "max-wait-s": { type: "string" },
  tenant: { type: "string" },
  json: { type: "boolean" },
} as const;

/** `gpu-eu@eu-west:3,gpu-us` -> members (region and weight optional). */
export function parseMembers(text: string): PoolGroupMember[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const m = /^([^@:]+)(?:@([^@:]+))?(?::(\d+))?$/.exec(item);
      if (!m) throw new UsageError(`--members: '${item}' is not pool[@region][:weight]`);
      return { pool: m[1]!, ...(m[2] ? { region: m[2] } : {}), ...(m[3] ? { weight: Number(m[3]) } : {}) };
    });
}

function maxWait(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  if (text === "none") return null;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--max-wait-s must be seconds or none; got '${text}'`);
  return n;
}

export function formatGroup(g: PoolGroup): string {
  const members = g.members.map((m) => `${m.pool}@${m.region ?? "?"}:${m.weight}`).join(", ");
  return `${g.name}: ${members}; max_wait_s ${g.max_wait_s ?? "none"}`;
}

/** Runs a `pool-groups` command; null when argv is not one. */
export async function runPoolGroupsCommand(
  argv: string[],
  io: { out: Out; env: NodeJS.ProcessEnv; cwd: string },
): Promise<number | null> {
  if (argv[0] !== "pool-groups") return null;
  const { values, positionals } = parseArgs({ args: argv.slice(1), options: OPTIONS, allowPositionals: true });
  const [sub, arg] = positionals;
  const client = new AdminClient(adminConfig(io.env, io.cwd));
  const print = (value: unknown, line: () => string) => io.out(values.json ? JSON.stringify(value, null, 2) : line());
  const path = (name: string | undefined) => {
    if (!name) throw new UsageError(`pool-groups ${sub} needs <group>`);
    return `/admin/v1/pool-groups/${encodeURIComponent(name)}`;
  };
  if (sub === "create") {
    if (!values.name || !values.members) throw new UsageError("pool-groups create needs --name and --members");
    const body = {
      name: values.name,
      members: parseMembers(values.members),
      max_wait_s: maxWait(values["max-wait-s"]),
    };
    const g = PoolGroup.parse(await client.request("POST", "/admin/v1/pool-groups", body));
    print(g, () => `pool group created: ${formatGroup(g)}`);
  } else if (sub === "list") {
    const list = z.object({ data: z.array(PoolGroup) }).parse(await client.request("GET", "/admin/v1/pool-groups"));
    if (values.json) io.out(JSON.stringify(list, null, 2));
    else if (list.data.length === 0) io.out("no pool groups");
    else for (const g of list.data) io.out(formatGroup(g));
  } else if (sub === "get") {
    const g = PoolGroup.parse(await client.request("GET", path(arg)));
    print(g, () => formatGroup(g));
  } else if (sub === "update") {
    const body = {
      ...(values.members ? { members: parseMembers(values.members) } : {}),
      ...(values["max-wait-s"] !== undefined ? { max_wait_s: maxWait(values["max-wait-s"]) } : {}),
    };
    const g = PoolGroup.parse(await client.request("PATCH", path(arg), body));
    print(g, () => `pool group updated: ${formatGroup(g)}`);
  } else if (sub === "delete") {
    await client.request("DELETE", path(arg));
    io.out(values.json ? JSON.stringify({ deleted: arg }) : `pool group deleted: ${arg}`);
  } else if (sub === "region") {
    if (!values.tenant) throw new UsageError("pool-groups region needs --tenant <tenant id>");
    const url = `/admin/v1/tenants/${encodeURIComponent(values.tenant)}/region`;
    const answer = z
      .object({ region: z.string().nullable() })
      .parse(
        arg === undefined
          ? await client.request("GET", url)
          : await client.request("PUT", url, { region: arg === "none" ? null : arg }),
      );
    print(answer, () => `tenant ${values.tenant}: region affinity ${answer.region ?? "none"}`);
  } else {
    throw new UsageError(`unknown command: pool-groups ${sub ?? ""}`.trim());
  }
  return 0;
}
