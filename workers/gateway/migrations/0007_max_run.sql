-- Per-tenant longest run of one job attempt, in seconds (limits.max_run_s); NULL = the deployment's MAX_RUN_S.
-- It travels in the tenant's keys' records (keys/record.ts) to the job at submit; the job object's alarm enforces it.
ALTER TABLE tenants ADD COLUMN max_run_s INTEGER;
