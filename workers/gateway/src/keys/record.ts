/** The key record a KeyDO holds: loaded from D1 (the source of truth) once, then served from memory. */
import type { Scope } from "@comfy-edge/shared/contract";
import { nodePolicyFromColumn } from "../jobs/node-policy.ts";
import { jsonArray } from "../lib/json.ts";
import type { TenantSnapshot } from "../types.ts";

export interface KeyRecord {
  keyId: string;
  tenantId: string;
  scopes: Scope[];
  /** Resolved limit: the key's own, else the tenant's, else null (deployment default applies). */
  requestsPerMinute: number | null;
  revoked: boolean;
  tenant: TenantSnapshot;
}

interface Row {
  id: string;
  tenant_id: string;
  scopes: string;
  key_rpm: number | null;
  revoked_at: number | null;
  tenant_rpm: number | null;
  image_url_allowlist: string | null;
  webhook_host_allowlist: string | null;
  default_pool: string | null;
  cache_all: number;
  max_queued_jobs: number | null;
  max_running_jobs: number | null;
  queue_timeout_s: number | null;
  max_run_s: number | null;
  node_policy: string | null;
  cors_allowed_origins: string | null;
}

export async function loadKeyRecord(db: D1Database, keyHash: string): Promise<KeyRecord | null> {
  const row = await db
    .prepare(
      `SELECT k.id, k.tenant_id, k.scopes, k.requests_per_minute AS key_rpm, k.revoked_at,
              t.requests_per_minute AS tenant_rpm, t.image_url_allowlist, t.webhook_host_allowlist,
              t.default_pool, t.cache_all, t.max_queued_jobs, t.max_running_jobs, t.queue_timeout_s, t.max_run_s, t.node_policy,
              t.cors_allowed_origins
         FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
        WHERE k.key_hash = ?`,
    )
    .bind(keyHash)
    .first<Row>();
  if (!row) return null;
  return {
    keyId: row.id,
    tenantId: row.tenant_id,
    scopes: (jsonArray(row.scopes) ?? []) as Scope[],
    requestsPerMinute: row.key_rpm ?? row.tenant_rpm,
    revoked: row.revoked_at !== null,
    tenant: {
      id: row.tenant_id,
      image_url_allowlist: jsonArray(row.image_url_allowlist),
      webhook_host_allowlist: jsonArray(row.webhook_host_allowlist),
      default_pool: row.default_pool,
      cache_all: row.cache_all === 1,
      max_queued_jobs: row.max_queued_jobs,
      max_running_jobs: row.max_running_jobs,
      queue_timeout_s: row.queue_timeout_s,
      max_run_s: row.max_run_s,
      node_policy: nodePolicyFromColumn(row.node_policy),
      cors_allowed_origins: jsonArray(row.cors_allowed_origins),
    },
  };
}
