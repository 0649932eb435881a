/**
 * comfy-edge CLI.
 *   tenants create --name N [--default-pool P] [--rpm N] [--image-allowlist a,b] [--webhook-allowlist a,b]
 *   tenants list
 *   pools create --name N [--region R] [--tenants id,id] | pools list
 *   keys create --tenant ID [--scopes llm,jobs] [--name N] [--rpm N] | keys list --tenant ID | keys revoke ID
 *   runner-tokens create --pool P | runner-tokens revoke ID
 *   runner   (the GPU runner: reads GATEWAY_URL, RUNNER_TOKEN, COMFYUI_URL, ...; see docs/runner.md)
 * Admin commands read COMFY_EDGE_URL (default http://127.0.0.1:8787) and COMFY_EDGE_ADMIN_TOKEN
 * (on the local stack, falling back to ADMIN_TOKEN in ./.dev.vars). Add --json for raw JSON output.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { AdminApiError, AdminClient, AdminConfig } from "./admin-client.ts";

const USAGE = `Usage: comfy-edge <command> [options]

Admin (needs COMFY_EDGE_ADMIN_TOKEN; COMFY_EDGE_URL defaults to http://127.0.0.1:8787):
  tenants create --name <name> [--default-pool <pool>] [--rpm <n>] [--image-allowlist <hosts>] [--webhook-allowlist <hosts>]
  tenants list
  pools create --name <name> [--region <region>] [--tenants <id,id>]
  pools list
  keys create --tenant <tenant id> [--scopes llm,jobs] [--name <name>] [--rpm <n>]
  keys list --tenant <tenant id>
  keys revoke <key id>
  runner-tokens create --pool <pool>
  runner-tokens revoke <token id>

Runner (on a GPU host, beside ComfyUI; settings from the environment, see docs/runner.md):
  runner      needs GATEWAY_URL and RUNNER_TOKEN; COMFYUI_URL (default http://127.0.0.1:8188, comma-separated
              for one job slot per ComfyUI), RUNNER_ID, MAX_INPUT_BYTES, JOB_TIMEOUT_S, METRICS_PORT, LOG_LEVEL

Options: --json prints the API's JSON answer.`;

const OPTIONS = {
  name: { type: "string" },
  tenant: { type: "string" },
  tenants: { type: "string" },
  pool: { type: "string" },
  region: { type: "string" },
  scopes: { type: "string" },
  rpm: { type: "string" },
  "default-pool": { type: "string" },
  "image-allowlist": { type: "string" },
  "webhook-allowlist": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

class UsageError extends Error {}

function list(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
}

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer`);
  return n;
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`--${flag} is required`);
  return value;
}

/** Admin settings from the environment; on the local stack the token may come from ./.dev.vars. */
export function adminConfig(env: NodeJS.ProcessEnv, cwd: string): AdminConfig {
  const raw: Record<string, string | undefined> = {
    COMFY_EDGE_URL: env.COMFY_EDGE_URL,
    COMFY_EDGE_ADMIN_TOKEN: env.COMFY_EDGE_ADMIN_TOKEN,
  };
  if (!raw.COMFY_EDGE_ADMIN_TOKEN && existsSync(`${cwd}/.dev.vars`)) {
    const m = /^ADMIN_TOKEN="?([^"\n]+)"?/m.exec(readFileSync(`${cwd}/.dev.vars`, "utf8"));
    if (m) raw.COMFY_EDGE_ADMIN_TOKEN = m[1];
  }
  const parsed = AdminConfig.safeParse(raw);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join("; "));
  return parsed.data;
}

type Out = (line: string) => void;

async function runAdmin(
  command: string,
  sub: string | undefined,
  positional: string[],
  values: Record<string, string | boolean | undefined>,
  client: AdminClient,
  out: Out,
): Promise<void> {
  const s = (k: string) => values[k] as string | undefined;
  const print = (obj: unknown, human: () => string[]) => {
    if (values.json) out(JSON.stringify(obj, null, 2));
    else for (const line of human()) out(line);
  };
  type Obj = Record<string, unknown>;
  switch (`${command} ${sub ?? ""}`.trim()) {
    case "tenants create": {
      const rpm = int(s("rpm"), "rpm");
      const t = await client.request<Obj>("POST", "/admin/v1/tenants", {
        name: required(s("name"), "name"),
        default_pool: s("default-pool"),
        image_url_allowlist: list(s("image-allowlist")),
        webhook_host_allowlist: list(s("webhook-allowlist")),
        ...(rpm ? { limits: { requests_per_minute: rpm } } : {}),
      });
      return print(t, () => [`tenant created: ${t.id}`, `webhook secret (shown once): ${t.webhook_secret}`]);
    }
    case "tenants list": {
      const r = await client.request<{ data: Obj[] }>("GET", "/admin/v1/tenants");
      return print(r, () => r.data.map((t) => `${t.id}\t${t.name}`));
    }
    case "pools create": {
      const p = await client.request<Obj>("POST", "/admin/v1/pools", {
        name: required(s("name"), "name"),
        region: s("region"),
        tenants: list(s("tenants")),
      });
      return print(p, () => [`pool created: ${p.name}`]);
    }
    case "pools list": {
      const r = await client.request<{ data: Obj[] }>("GET", "/admin/v1/pools");
      return print(r, () =>
        r.data.map(
          (p) => `${p.name}\t${p.region ?? "-"}\t${p.tenants ? (p.tenants as string[]).join(",") : "all tenants"}`,
        ),
      );
    }
    case "keys create": {
      const k = await client.request<Obj>("POST", "/admin/v1/keys", {
        tenant_id: required(s("tenant"), "tenant"),
        name: s("name"),
        scopes: list(s("scopes")) ?? ["llm", "jobs"],
        requests_per_minute: int(s("rpm"), "rpm"),
      });
      return print(k, () => [
        `key created: ${k.id} (scopes ${(k.scopes as string[]).join(",")})`,
        `API key (shown once, store it now): ${k.key}`,
      ]);
    }
    case "keys list": {
      const r = await client.request<{ data: Obj[] }>(
        "GET",
        `/admin/v1/keys?tenant_id=${encodeURIComponent(required(s("tenant"), "tenant"))}`,
      );
      return print(r, () =>
        r.data.map(
          (k) =>
            `${k.id}\t${k.prefix}…\t${(k.scopes as string[]).join(",")}\t${k.revoked_at ? `revoked ${k.revoked_at}` : "active"}`,
        ),
      );
    }
    case "keys revoke": {
      const id = positional[0] ?? s("name");
      if (!id) throw new UsageError("keys revoke needs the key id");
      const k = await client.request<Obj>("DELETE", `/admin/v1/keys/${encodeURIComponent(id)}`);
      return print(k, () => [`key revoked: ${k.id}`]);
    }
    case "runner-tokens create": {
      const t = await client.request<Obj>("POST", "/admin/v1/runner-tokens", { pool: required(s("pool"), "pool") });
      return print(t, () => [
        `runner token created: ${t.id} (pool ${t.pool})`,
        `RUNNER_TOKEN (shown once): ${t.token}`,
      ]);
    }
    case "runner-tokens revoke": {
      const id = positional[0];
      if (!id) throw new UsageError("runner-tokens revoke needs the token id");
      const t = await client.request<Obj>("DELETE", `/admin/v1/runner-tokens/${encodeURIComponent(id)}`);
      return print(t, () => [`runner token revoked: ${t.id}`]);
    }
    default:
      throw new UsageError(`unknown command: ${command} ${sub ?? ""}`.trim());
  }
}

export async function main(
  argv: string[],
  io: { out: Out; err: Out; env: NodeJS.ProcessEnv; cwd: string } = {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
    env: process.env,
    cwd: process.cwd(),
  },
): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    const [command, sub, ...rest] = positionals;
    if (!command || values.help) {
      io.out(USAGE);
      return command || values.help ? 0 : 2;
    }
    if (command === "runner") {
      if (sub !== undefined) throw new UsageError(`unknown command: runner ${sub}`);
      // Loaded only for this command: the admin commands stay light.
      const { runRunner } = await import("../runner/src/main.ts");
      return await runRunner(io.env, { err: io.err });
    }
    const client = new AdminClient(adminConfig(io.env, io.cwd));
    await runAdmin(command, sub, rest, values, client, io.out);
    return 0;
  } catch (err) {
    if (
      err instanceof UsageError ||
      (err instanceof TypeError && (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))
    ) {
      io.err(`error: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof AdminApiError) {
      io.err(`error: ${err.message} (${err.code}${err.status ? `, HTTP ${err.status}` : ""})`);
      return 1;
    }
    throw err;
  }
}
