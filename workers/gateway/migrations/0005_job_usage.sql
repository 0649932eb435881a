-- GPU time per job (run_ms of the final attempt), summed into the tenant's usage by GET /v1/usage.
ALTER TABLE jobs_index ADD COLUMN run_ms INTEGER;
ALTER TABLE jobs_index ADD COLUMN key_id TEXT;
CREATE INDEX jobs_index_tenant_completed ON jobs_index (tenant_id, completed_at);
