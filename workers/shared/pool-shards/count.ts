/**
 * A pool's shard count (D1 `pools.shards`, migration 0015), cached with the Cache API for 30 s per data
 * centre: the gateway and the queue consumer both route a job's calls to its shard with it. An unknown
 * pool counts as 1 shard. (Bindings are passed in: this module is also compiled for Node.)
 */
const TTL_S = 30;

interface ShardDb {
  prepare(query: string): { bind(...values: unknown[]): { first<T>(): Promise<T | null> } };
}
type ShardCache = Pick<Cache, "match" | "put" | "delete">;

function cacheKey(pool: string): Request {
  return new Request(`https://pool-shards.cache.comfy-edge.internal/${encodeURIComponent(pool)}`);
}

/** Drops the cached count after the admin API changed the pool. */
export async function forgetShardCount(cache: ShardCache, pool: string): Promise<void> {
  await cache.delete(cacheKey(pool));
}

export async function shardCount(db: ShardDb, cache: ShardCache, pool: string): Promise<number> {
  const key = cacheKey(pool);
  const hit = await cache.match(key);
  if (hit) {
    const n = Number(await hit.text());
    if (Number.isInteger(n) && n >= 1) return n;
  }
  const row = await db.prepare("SELECT shards FROM pools WHERE name = ?").bind(pool).first<{ shards: number | null }>();
  const n = row?.shards && row.shards >= 1 ? row.shards : 1;
  await cache.put(key, new Response(String(n), { headers: { "cache-control": `max-age=${TTL_S}` } }));
  return n;
}
