-- Webhook delivery log: one row per event (webhook-id), updated by the queue consumer after every attempt.
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,                       -- the webhook-id, stable across retries
  job_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  event TEXT NOT NULL,                       -- job.started | job.progress | job.succeeded | job.failed | job.canceled
  sequence INTEGER NOT NULL,
  url TEXT NOT NULL,
  status TEXT NOT NULL,                      -- pending | delivered | failed | gone | skipped
  attempts INTEGER NOT NULL DEFAULT 0,
  status_code INTEGER,
  latency_ms INTEGER,
  next_retry_at INTEGER,
  last_error TEXT,                           -- truncated to 500 characters
  payload TEXT NOT NULL,                     -- the queue message, for redelivery
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_job ON webhook_deliveries (job_id, sequence);
