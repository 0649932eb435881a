/** Admin API request/response shapes (design.md "Admin"). */
import { z } from "zod";
import { HostPattern, Limits, NodePolicy, PoolName, Scope } from "./common.ts";

/** A browser origin a tenant's keys may be used from: `https://app.example.com`, `http://localhost:5173`,
 * `https://*.example.com` (strict subdomains) or `*` (docs/cors.md). */
export const CorsOrigin = z
  .string()
  .max(300)
  .refine((text) => text === "*" || isOriginPattern(text), {
    message:
      "must be an origin scheme://host[:port] (http or https, no path), a subdomain wildcard like https://*.example.com, or *",
  });

function isOriginPattern(text: string): boolean {
  const wild = /^(https?):\/\/\*\.(.+)$/i.exec(text);
  try {
    const url = new URL(wild ? `${wild[1]}://${wild[2]}` : text);
    const bare = url.username === "" && url.password === "" && url.search === "" && url.hash === "";
    const noPath = url.pathname === "/" && !/^https?:\/\/[^/]+\/./i.test(text);
    return bare && noPath && (url.protocol === "https:" || url.protocol === "http:") && !/[*]/.test(url.host);
  } catch {
    return false;
  }
}

export const TenantCreate = z
  .object({
    name: z.string().trim().min(1).max(200),
    image_url_allowlist: z.array(HostPattern).max(1000).nullish(),
    webhook_host_allowlist: z.array(HostPattern).max(1000).nullish(),
    default_pool: z
      .string()
      .regex(/^(group:)?[a-z0-9][a-z0-9-]{0,62}$/, "must be a pool name or group:<pool group name>")
      .nullish()
      .describe(
        "Pool for jobs that name none; `group:<name>` makes it a pool group (as a job's `pool`, docs/capabilities.md)",
      ),
    cache_all: z.boolean().optional(),
    limits: Limits.optional(),
    node_policy: NodePolicy.nullish().describe(
      "Node-class policy override for this tenant (docs/node-policy.md); null = the pool's and the deployment's apply",
    ),
    cors_allowed_origins: z
      .array(CorsOrigin)
      .max(100)
      .nullish()
      .describe(
        "Browser origins this tenant's keys may be used from (docs/cors.md); replaces the deployment's CORS_ALLOWED_ORIGINS for this tenant; [] = none; null = the deployment's",
      ),
  })
  .strict();
export type TenantCreate = z.infer<typeof TenantCreate>;

export const TenantPatch = TenantCreate.partial().strict();
export type TenantPatch = z.infer<typeof TenantPatch>;

export const Tenant = z
  .object({
    id: z.string(),
    name: z.string(),
    image_url_allowlist: z.array(z.string()).nullable(),
    webhook_host_allowlist: z.array(z.string()).nullable(),
    default_pool: z.string().nullable(),
    cache_all: z.boolean(),
    limits: z.object({
      requests_per_minute: z.number().nullable(),
      max_queued_jobs: z.number().nullable(),
      max_running_jobs: z.number().nullable(),
      queue_timeout_s: z.number().nullable(),
      max_run_s: z.number().nullable(),
    }),
    node_policy: NodePolicy.nullable(),
    cors_allowed_origins: z.array(z.string()).nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: "Tenant" });
export type Tenant = z.infer<typeof Tenant>;

export const TenantWithSecret = Tenant.extend({
  webhook_secret: z.string().describe("Standard Webhooks secret (whsec_...). Shown only here and on rotation."),
}).meta({ id: "TenantWithSecret" });

export const WebhookSecretRotated = z
  .object({
    webhook_secret: z.string(),
    previous_secret_expires_at: z.string(),
  })
  .meta({ id: "WebhookSecretRotated" });

export const PoolCreate = z
  .object({
    name: PoolName,
    region: z.string().trim().min(1).max(64).nullish(),
    tenants: z.array(z.string().min(1).max(64)).max(10_000).nullish(),
    node_policy: NodePolicy.nullish().describe(
      "Node-class policy of this pool (docs/node-policy.md); null = the deployment's applies",
    ),
    shards: z
      .int()
      .min(1)
      .max(16)
      .optional()
      .describe(
        "Durable Objects serving the pool's queue (default 1); more for more dispatches per second (docs/capabilities.md §7). Changed only while the pool has no queued or running job",
      ),
  })
  .strict();

export const PoolPatch = PoolCreate.omit({ name: true }).partial().strict();
export type PoolPatch = z.infer<typeof PoolPatch>;

export const Pool = z
  .object({
    name: z.string(),
    region: z.string().nullable(),
    tenants: z.array(z.string()).nullable(),
    node_policy: NodePolicy.nullable(),
    shards: z.int().describe("Durable Objects serving the pool's queue (1: not sharded)"),
    created_at: z.string(),
  })
  .meta({ id: "Pool" });

export const KeyCreate = z
  .object({
    tenant_id: z.string().min(1).max(64),
    name: z.string().trim().min(1).max(200).nullish(),
    scopes: z.array(Scope).min(1).max(2),
    requests_per_minute: z.int().min(1).max(1_000_000).nullish(),
  })
  .strict();

export const ApiKey = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    name: z.string().nullable(),
    prefix: z.string().describe("First characters of the key, for recognising it in listings"),
    scopes: z.array(Scope),
    requests_per_minute: z.number().nullable(),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .meta({ id: "ApiKey" });

export const ApiKeyWithSecret = ApiKey.extend({
  key: z.string().describe("The API key. Shown only once: store it now."),
}).meta({ id: "ApiKeyWithSecret" });

export const KeyListQuery = z.object({ tenant_id: z.string().min(1).max(64) }).strict();

export const RunnerTokenCreate = z.object({ pool: PoolName }).strict();

export const RunnerToken = z
  .object({
    id: z.string(),
    pool: z.string(),
    prefix: z.string(),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .meta({ id: "RunnerToken" });

export const RunnerTokenWithSecret = RunnerToken.extend({
  token: z.string().describe("The runner token. Shown only once."),
}).meta({ id: "RunnerTokenWithSecret" });
