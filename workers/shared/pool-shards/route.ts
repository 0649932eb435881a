/**
 * Pool shards (pure; docs/capabilities.md §7): which Durable Object of a sharded pool holds a job, which
 * one a runner calls home, and the order a lease asks the shards in.
 */

/** Most shards a pool may have (admin API bound). */
export const MAX_SHARDS = 16;

/** FNV-1a (32 bit) of a string: a stable, well-spread hash (not a security boundary). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The Durable Object name of shard `i`: shard 0 keeps the pool's own name (a 1-shard pool is as before). */
export function shardName(pool: string, i: number): string {
  return i === 0 ? pool : `${pool}#${i}`;
}

/** The shard that holds job `jobId` (its dispatches, re-queues, running row and queue place). */
export function jobShard(jobId: string, shards: number): number {
  return shards <= 1 ? 0 : fnv1a(jobId) % shards;
}

/** A runner's home shard (where it parks its long poll when no shard has work for it). */
export function homeShard(runnerKey: string, shards: number): number {
  return shards <= 1 ? 0 : fnv1a(runnerKey) % shards;
}

/**
 * The order a lease asks the shards in without waiting: all of them, starting at `start` (drawn at random
 * per lease, so that every shard's queue is served in turn and none starves while another has work).
 */
export function leaseOrder(shards: number, start: number): number[] {
  const s = ((start % shards) + shards) % shards;
  return Array.from({ length: shards }, (_, i) => (s + i) % shards);
}

/** A tenant's max_running_jobs as each shard enforces it (its total may exceed the cap by shards - 1). */
export function perShardMaxRunning(max: number | null, shards: number): number | null {
  return max === null || shards <= 1 ? max : Math.ceil(max / shards);
}
