-- Model assets (docs/models.md). A pool's manifest: the model files its runners download into ComfyUI's
-- model folders, an optional warmup workflow and whether jobs may name models by URL. `digest` changes with
-- every PUT and every re-sync request; runners compare it with the one they synced.
CREATE TABLE pool_manifests (
  pool TEXT PRIMARY KEY REFERENCES pools(name),
  models TEXT NOT NULL,                      -- JSON array of {url, folder, filename, sha256, size?}
  warmup TEXT,                               -- JSON {workflow}, NULL = no warmup
  url_models TEXT,                           -- JSON {max_bytes}, NULL = jobs may not name models by URL
  resync INTEGER NOT NULL DEFAULT 0,         -- bumped by POST .../manifest/resync (changes the digest)
  digest TEXT NOT NULL,                      -- hex SHA-256 over models, warmup, url_models and resync
  updated_at INTEGER NOT NULL
);

-- What each runner last reported about its model files (PUT /runner/v1/manifest/status), one row per runner.
CREATE TABLE runner_models (
  pool TEXT NOT NULL,
  runner_id TEXT NOT NULL,
  report TEXT NOT NULL,                      -- JSON RunnerModelsReport (file names and states, no host paths)
  reported_at INTEGER NOT NULL,
  PRIMARY KEY (pool, runner_id)
);

-- Hosts a tenant's jobs may name model files from (exact hosts or *.example.com). No row = none.
CREATE TABLE tenant_model_hosts (
  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
  hosts TEXT NOT NULL                        -- JSON array of host patterns
);
