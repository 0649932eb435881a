-- Pool groups (docs/capabilities.md "Regions and failover"): a job may target a group (`"pool": "group:<name>"`);
-- dispatch picks the member nearest the request that has a live runner able to run the job and whose wait
-- estimate is within `max_wait_s`, and may move a re-queued job to another member.
CREATE TABLE pool_groups (
  name TEXT PRIMARY KEY,
  members TEXT NOT NULL,                     -- JSON array of {pool, region (null: the pool's), weight}
  max_wait_s REAL,                           -- failover threshold on a member's wait estimate; NULL = none
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- A tenant's region affinity (PUT /admin/v1/tenants/:id/region): pool groups prefer members in this region
-- (then on its continent) over the request's location. No row = the request's location decides.
CREATE TABLE tenant_regions (
  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
  region TEXT NOT NULL
);
