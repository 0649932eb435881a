-- Node-class policy (docs/node-policy.md): which ComfyUI node classes a workflow may use.
-- JSON {"allow": [...], "deny": [...]} of class names, "group:<name>" or "*"; NULL = no policy at this level.
-- The tenant's policy travels in its keys' records (keys/record.ts); the pool's in the cached pool lookup.
ALTER TABLE tenants ADD COLUMN node_policy TEXT;
ALTER TABLE pools ADD COLUMN node_policy TEXT;
