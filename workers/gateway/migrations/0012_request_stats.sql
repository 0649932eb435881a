-- Request monitoring (docs/monitoring.md): one row per minute, route pattern, method and tenant, written by
-- the gateway isolates' background flush (stats/flush.ts). A flush adds its counts with one upsert per row;
-- latency_hist is a JSON object {bucket index: count} over the fixed log-scale buckets of stats/histogram.ts,
-- merged in the upsert (json_each), so percentiles can be computed over any set of rows. tenant_id is '' for
-- requests without an API key (admin, runner, unauthenticated). Rows older than 2 days are pruned by the flush.
CREATE TABLE request_stats (
  minute INTEGER NOT NULL,
  route TEXT NOT NULL,
  method TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  requests INTEGER NOT NULL,
  status_2xx INTEGER NOT NULL DEFAULT 0,
  status_3xx INTEGER NOT NULL DEFAULT 0,
  status_4xx INTEGER NOT NULL DEFAULT 0,
  status_5xx INTEGER NOT NULL DEFAULT 0,
  latency_ms_sum REAL NOT NULL DEFAULT 0,
  latency_hist TEXT NOT NULL,
  PRIMARY KEY (minute, route, method, tenant_id)
) WITHOUT ROWID;
CREATE INDEX request_stats_tenant ON request_stats (tenant_id, minute);
