-- POST /v1/jobs/:id/webhook-deliveries/redeliver is limited per job: the time of the last accepted call.
-- Reserved with one conditional upsert (routes/webhook-deliveries.ts), so concurrent calls cannot both pass.
CREATE TABLE webhook_redeliveries (
  job_id TEXT PRIMARY KEY,
  last_at INTEGER NOT NULL                   -- unix ms
);
