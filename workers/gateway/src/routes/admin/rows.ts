/** D1 row -> API object mappers for the admin resources. */

import type { ApiKey, Pool, RunnerToken, Tenant } from "@comfy-edge/shared/contract";
import type { z } from "zod";
import { nodePolicyFromColumn } from "../../jobs/node-policy.ts";
import { jsonArray } from "../../lib/json.ts";
import { iso } from "../../lib/time.ts";

export interface TenantRow {
  id: string;
  name: string;
  image_url_allowlist: string | null;
  webhook_host_allowlist: string | null;
  default_pool: string | null;
  cache_all: number;
  requests_per_minute: number | null;
  max_queued_jobs: number | null;
  max_running_jobs: number | null;
  queue_timeout_s: number | null;
  /** Migration 0007. */
  max_run_s: number | null;
  webhook_secret: string;
  webhook_secret_previous: string | null;
  webhook_secret_previous_expires_at: number | null;
  node_policy: string | null;
  /** Migration 0014: JSON array of browser origins, NULL = the deployment's. */
  cors_allowed_origins?: string | null;
  created_at: number;
  updated_at: number;
}

export function toTenant(row: TenantRow): z.infer<typeof Tenant> {
  return {
    id: row.id,
    name: row.name,
    image_url_allowlist: jsonArray(row.image_url_allowlist),
    webhook_host_allowlist: jsonArray(row.webhook_host_allowlist),
    default_pool: row.default_pool,
    cache_all: row.cache_all === 1,
    limits: {
      requests_per_minute: row.requests_per_minute,
      max_queued_jobs: row.max_queued_jobs,
      max_running_jobs: row.max_running_jobs,
      queue_timeout_s: row.queue_timeout_s,
      max_run_s: row.max_run_s ?? null,
    },
    node_policy: nodePolicyFromColumn(row.node_policy),
    cors_allowed_origins: jsonArray(row.cors_allowed_origins ?? null),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export interface PoolRow {
  name: string;
  region: string | null;
  tenants: string | null;
  node_policy: string | null;
  /** Migration 0015 (default 1). */
  shards: number;
  created_at: number;
}

export function toPool(row: PoolRow): z.infer<typeof Pool> {
  return {
    name: row.name,
    region: row.region,
    tenants: jsonArray(row.tenants),
    node_policy: nodePolicyFromColumn(row.node_policy),
    shards: row.shards ?? 1,
    created_at: iso(row.created_at),
  };
}

export interface KeyRow {
  id: string;
  tenant_id: string;
  name: string | null;
  key_hash: string;
  prefix: string;
  scopes: string;
  requests_per_minute: number | null;
  created_at: number;
  revoked_at: number | null;
}

export function toKey(row: KeyRow): z.infer<typeof ApiKey> {
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    name: row.name,
    prefix: row.prefix,
    scopes: (jsonArray(row.scopes) ?? []) as z.infer<typeof ApiKey>["scopes"],
    requests_per_minute: row.requests_per_minute,
    created_at: iso(row.created_at),
    revoked_at: iso(row.revoked_at),
  };
}

export interface RunnerTokenRow {
  id: string;
  pool: string;
  token_hash: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
}

export function toRunnerToken(row: RunnerTokenRow): z.infer<typeof RunnerToken> {
  return {
    id: row.id,
    pool: row.pool,
    prefix: row.prefix,
    created_at: iso(row.created_at),
    revoked_at: iso(row.revoked_at),
  };
}
