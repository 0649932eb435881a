-- comfy-edge D1 schema. D1 is the source of truth for tenants, pools, keys and runner tokens.
-- Layout documented in workers/gateway/STORAGE.md.

CREATE TABLE tenants (
  id TEXT PRIMARY KEY,                       -- ten_<base62>
  name TEXT NOT NULL,
  image_url_allowlist TEXT,                  -- JSON array of host patterns, NULL = deployment default
  webhook_host_allowlist TEXT,               -- JSON array of host patterns, NULL = any public https host
  default_pool TEXT,                         -- pool name, NULL = "local"
  cache_all INTEGER NOT NULL DEFAULT 0,      -- 1: cache every LLM answer, not only deterministic ones
  requests_per_minute INTEGER,               -- default for keys without their own limit
  max_queued_jobs INTEGER,
  max_running_jobs INTEGER,
  queue_timeout_s INTEGER,
  webhook_secret TEXT NOT NULL,              -- whsec_<base64>
  webhook_secret_previous TEXT,              -- still signs until webhook_secret_previous_expires_at
  webhook_secret_previous_expires_at INTEGER,
  created_at INTEGER NOT NULL,               -- unix ms
  updated_at INTEGER NOT NULL
);

CREATE TABLE pools (
  name TEXT PRIMARY KEY,                     -- [a-z0-9][a-z0-9-]{0,62}
  region TEXT,
  tenants TEXT,                              -- JSON array of tenant ids, NULL = every tenant
  created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,                       -- key_<base62>
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name TEXT,
  key_hash TEXT NOT NULL UNIQUE,             -- hex SHA-256 of the whole key; the key itself is never stored
  prefix TEXT NOT NULL,                      -- first characters, for display ("ce_sk_AbCd…")
  scopes TEXT NOT NULL,                      -- JSON array: "llm", "jobs"
  requests_per_minute INTEGER,               -- NULL = tenant's, else deployment default
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id, created_at);

CREATE TABLE runner_tokens (
  id TEXT PRIMARY KEY,                       -- rt_<base62>
  pool TEXT NOT NULL REFERENCES pools(name),
  token_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);

-- Per key, per UTC day; flushed from the key's Durable Object.
CREATE TABLE usage_daily (
  key_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  day TEXT NOT NULL,                         -- YYYY-MM-DD (UTC)
  requests INTEGER NOT NULL DEFAULT 0,
  rate_limited INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, day)
);
CREATE INDEX usage_daily_tenant ON usage_daily(tenant_id, day);
