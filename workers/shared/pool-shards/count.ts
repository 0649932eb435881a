/**
 * A pool's shard count (D1 `pools.shards`, migration 0015), cached with the Cache API for 30 s per data
 * centre: the gateway and the queue consumer both route a job's calls to its shard with it. An unknown
 * pool counts as 1 shard. Each isolate also remembers the counts it read until 30 s after they were read
 * from D1 (memo.ts): the lease route, the job outbox's release and the consumer's dispatch pay no Cache API
 * read. An admin change drops the cached count and this isolate's memo; other isolates see it within 30 s.
 * (Bindings are passed in: this module is also compiled for Node.)
 */
import { agedMemo, READ_AT_HEADER, readAtOf } from "./memo.ts";

const TTL_S = 30;
/** Pools an isolate remembers the count of at most. */
const MEMO_ENTRIES = 1000;

interface ShardDb {
  prepare(query: string): { bind(...values: unknown[]): { first<T>(): Promise<T | null> } };
}
type ShardCache = Pick<Cache, "match" | "put" | "delete">;
/** The worker's env (the memo is kept per env object); only its D1 binding is read. */
export interface ShardEnv {
  DB: ShardDb;
}

const memo = agedMemo<number>(TTL_S * 1000, MEMO_ENTRIES);

function cacheKey(pool: string): Request {
  return new Request(`https://pool-shards.cache.comfy-edge.internal/${encodeURIComponent(pool)}`);
}

/** Drops the cached count (and this isolate's memo of it) after the admin API changed the pool. */
export async function forgetShardCount(env: ShardEnv, cache: ShardCache, pool: string): Promise<void> {
  memo.forget(env, pool);
  await cache.delete(cacheKey(pool));
}

export async function shardCount(env: ShardEnv, cache: ShardCache, pool: string): Promise<number> {
  const known = memo.get(env, pool);
  if (known) return known.value;
  const key = cacheKey(pool);
  const hit = await cache.match(key);
  if (hit) {
    const n = Number(await hit.text());
    if (Number.isInteger(n) && n >= 1) {
      memo.set(env, pool, n, readAtOf(hit));
      return n;
    }
  }
  const row = await env.DB.prepare("SELECT shards FROM pools WHERE name = ?")
    .bind(pool)
    .first<{ shards: number | null }>();
  const n = row?.shards && row.shards >= 1 ? row.shards : 1;
  const readAt = Date.now();
  const headers = { "cache-control": `max-age=${TTL_S}`, [READ_AT_HEADER]: String(readAt) };
  await cache.put(key, new Response(String(n), { headers }));
  memo.set(env, pool, n, readAt);
  return n;
}
