-- Job index: one row per job, written by the job's Durable Object at submit and at its terminal state
-- (guarded by the event sequence, so a late write never goes backwards). Serves GET /v1/jobs.
CREATE TABLE jobs_index (
  id TEXT PRIMARY KEY,                       -- job_<64 hex: the job Durable Object's id>
  tenant_id TEXT NOT NULL,
  pool TEXT NOT NULL,
  status TEXT NOT NULL,                      -- queued (= not finished: queued or running) | succeeded | failed | canceled
  seq INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  completed_at INTEGER
);
CREATE INDEX jobs_index_tenant ON jobs_index (tenant_id, created_at DESC, id DESC);
CREATE INDEX jobs_index_tenant_status ON jobs_index (tenant_id, status, created_at DESC, id DESC);
