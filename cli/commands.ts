/** The admin commands: one case per `<resource> <verb>`, each one admin API call. */
import type { AdminClient } from "./admin-client.ts";
import { UsageError } from "./config.ts";

export type Out = (line: string) => void;
type Values = Record<string, string | boolean | undefined>;
type Obj = Record<string, unknown>;

function list(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
}

/** `none` clears a list setting (null); anything else is a comma-separated list. */
function clearableList(value: string | undefined): string[] | null | undefined {
  return value === "none" ? null : list(value);
}

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer (got "${value}")`);
  return n;
}

/** A limit: a positive integer, or `none` for no limit (null). */
function limit(value: string | undefined, flag: string): number | null | undefined {
  return value === "none" ? null : int(value, flag);
}

function bool(value: string | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === "true" || value === "false") return value === "true";
  throw new UsageError(`--${flag} must be true or false (got "${value}")`);
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`--${flag} is required`);
  return value;
}

function positional(args: string[], what: string): string {
  const id = args[0];
  if (!id) throw new UsageError(`${what} needs the ${what.split(" ")[0]!.replace(/s$/, "")} id`);
  return encodeURIComponent(id);
}

function withoutUndefined(obj: Obj): Obj {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

/** The body of `tenants update`: only the settings given on the command line. */
function tenantPatch(s: (k: string) => string | undefined): Obj {
  const limits = withoutUndefined({
    requests_per_minute: limit(s("rpm"), "rpm"),
    max_queued_jobs: limit(s("max-queued-jobs"), "max-queued-jobs"),
    max_running_jobs: limit(s("max-running-jobs"), "max-running-jobs"),
    queue_timeout_s: limit(s("queue-timeout-s"), "queue-timeout-s"),
  });
  const patch = withoutUndefined({
    name: s("name"),
    default_pool: s("default-pool") === "none" ? null : s("default-pool"),
    image_url_allowlist: clearableList(s("image-allowlist")),
    webhook_host_allowlist: clearableList(s("webhook-allowlist")),
    cache_all: bool(s("cache-all"), "cache-all"),
    cors_allowed_origins: clearableList(s("cors-origins")),
    ...(Object.keys(limits).length ? { limits } : {}),
  });
  if (Object.keys(patch).length === 0) throw new UsageError("tenants update needs at least one setting to change");
  return patch;
}

export async function runAdmin(
  command: string,
  sub: string | undefined,
  args: string[],
  values: Values,
  client: AdminClient,
  out: Out,
): Promise<void> {
  const s = (k: string) => values[k] as string | undefined;
  const print = (obj: unknown, human: () => string[]) => {
    if (values.json) out(JSON.stringify(obj, null, 2));
    else for (const line of human()) out(line);
  };
  const tenantLine = (t: Obj) =>
    `${t.id}\t${t.name}\tdefault pool ${t.default_pool ?? "-"}\tlimits ${JSON.stringify(t.limits ?? {})}`;
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
    case "tenants get": {
      const t = await client.request<Obj>("GET", `/admin/v1/tenants/${positional(args, "tenants get")}`);
      return print(t, () => [tenantLine(t)]);
    }
    case "tenants update": {
      const id = positional(args, "tenants update");
      const t = await client.request<Obj>("PATCH", `/admin/v1/tenants/${id}`, tenantPatch(s));
      return print(t, () => [`tenant updated: ${tenantLine(t)}`]);
    }
    case "tenants rotate-webhook-secret": {
      const id = positional(args, "tenants rotate-webhook-secret");
      const r = await client.request<Obj>("POST", `/admin/v1/tenants/${id}/webhook-secret/rotate`);
      return print(r, () => [
        `new webhook secret (shown once): ${r.webhook_secret}`,
        `the previous secret keeps signing beside it until ${r.previous_secret_expires_at}`,
      ]);
    }
    case "pools create": {
      const p = await client.request<Obj>("POST", "/admin/v1/pools", {
        name: required(s("name"), "name"),
        region: s("region"),
        tenants: list(s("tenants")),
        shards: int(s("shards"), "shards"),
      });
      return print(p, () => [`pool created: ${p.name}${p.shards !== 1 ? ` (${p.shards} shards)` : ""}`]);
    }
    case "pools list": {
      const r = await client.request<{ data: Obj[] }>("GET", "/admin/v1/pools");
      return print(r, () =>
        r.data.map(
          (p) =>
            `${p.name}\t${p.region ?? "-"}\t${p.tenants ? (p.tenants as string[]).join(",") : "all tenants"}\tshards ${p.shards ?? 1}`,
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
      const tenant = encodeURIComponent(required(s("tenant"), "tenant"));
      const r = await client.request<{ data: Obj[] }>("GET", `/admin/v1/keys?tenant_id=${tenant}`);
      return print(r, () =>
        r.data.map(
          (k) =>
            `${k.id}\t${k.prefix}…\t${(k.scopes as string[]).join(",")}\t${k.revoked_at ? `revoked ${k.revoked_at}` : "active"}`,
        ),
      );
    }
    case "keys revoke": {
      const k = await client.request<Obj>("DELETE", `/admin/v1/keys/${positional(args, "keys revoke")}`);
      return print(k, () => [`key revoked: ${k.id}`]);
    }
    case "runner-tokens create": {
      const t = await client.request<Obj>("POST", "/admin/v1/runner-tokens", { pool: required(s("pool"), "pool") });
      return print(t, () => [
        `runner token created: ${t.id} (pool ${t.pool})`,
        `RUNNER_TOKEN (shown once): ${t.token}`,
      ]);
    }
    case "runner-tokens list": {
      const pool = s("pool");
      const query = pool ? `?pool=${encodeURIComponent(pool)}` : "";
      const r = await client.request<{ data: Obj[] }>("GET", `/admin/v1/runner-tokens${query}`);
      return print(r, () =>
        r.data.map((t) => `${t.id}\t${t.pool}\t${t.prefix}…\t${t.revoked_at ? `revoked ${t.revoked_at}` : "active"}`),
      );
    }
    case "runner-tokens revoke": {
      const id = positional(args, "runner-tokens revoke");
      const t = await client.request<Obj>("DELETE", `/admin/v1/runner-tokens/${id}`);
      return print(t, () => [`runner token revoked: ${t.id}`]);
    }
    default:
      throw new UsageError(`unknown command: ${command} ${sub ?? ""}`.trim());
  }
}
