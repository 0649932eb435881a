-- Pool shards (docs/capabilities.md §7): how many Durable Objects serve the pool's queue. Shard 0 is the object
-- named after the pool (as before), shard i > 0 is named "<pool>#<i>". 1 = not sharded.
ALTER TABLE pools ADD COLUMN shards INTEGER NOT NULL DEFAULT 1;
