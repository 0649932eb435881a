import type { NodePolicy, Scope } from "@comfy-edge/shared/contract";

/** Tenant settings the hot path needs, carried in the key record so routes never read D1 for them. */
export interface TenantSnapshot {
  id: string;
  image_url_allowlist: string[] | null;
  webhook_host_allowlist: string[] | null;
  default_pool: string | null;
  cache_all: boolean;
  max_queued_jobs: number | null;
  max_running_jobs: number | null;
  queue_timeout_s: number | null;
  /** Longest run of one job attempt, in seconds (absent in records stored before migration 0007). */
  max_run_s?: number | null;
  /** The tenant's node-class policy override (absent in records stored before migration 0006). */
  node_policy?: NodePolicy | null;
  /** Browser origins for this tenant's keys (docs/cors.md); null/absent = the deployment's CORS_ALLOWED_ORIGINS. */
  cors_allowed_origins?: string[] | null;
}

export interface AuthContext {
  keyId: string;
  tenantId: string;
  scopes: Scope[];
  tenant: TenantSnapshot;
}

export interface RunnerContext {
  tokenId: string;
  pool: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    auth: AuthContext;
    /** The key's tenant when the key check refused the request after identifying it (429, 403): request stats. */
    refusedTenantId: string;
    runner: RunnerContext;
  };
}
