/**
 * A pool's shard objects (docs/capabilities.md §7). A job's calls go to its own shard; views (pool list,
 * pool view, metrics, group loads) ask every shard and add up. A 1-shard pool is the one object named after
 * the pool, as before: no extra Durable Object call.
 */
import { shardCount } from "@comfy-edge/shared/pool-shards/count";
import { jobShard, shardName } from "@comfy-edge/shared/pool-shards/route";
import { type PoolApi, poolStub } from "./access.ts";
import { estimateWaitMs, typicalRunMs } from "./estimate.ts";
import type { PoolMetrics } from "./load.ts";
import type { PoolStats } from "./pool-do.ts";

export function poolShards(env: Env, pool: string): Promise<number> {
  return shardCount(env, caches.default, pool);
}

export function shardStub(env: Env, pool: string, shard: number): PoolApi {
  return poolStub(env, shardName(pool, shard));
}

/** The shard object that holds job `jobId` of `pool`, and the pool's shard count. */
export async function jobShardStub(env: Env, pool: string, jobId: string): Promise<{ stub: PoolApi; shards: number }> {
  const shards = await poolShards(env, pool);
  return { stub: shardStub(env, pool, jobShard(jobId, shards)), shards };
}

export async function allShardStubs(env: Env, pool: string): Promise<PoolApi[]> {
  const shards = await poolShards(env, pool);
  return Array.from({ length: shards }, (_, i) => shardStub(env, pool, i));
}

/**
 * Counts of a sharded pool (pure): queued and running add up; a runner leases from every shard and parks
 * its poll on all of them, so live runners, their slots and waiting runners are the most any shard saw.
 */
export function sumStats(parts: PoolStats[]): PoolStats {
  return {
    runners: Math.max(0, ...parts.map((p) => p.runners)),
    queued: parts.reduce((n, p) => n + p.queued, 0),
    running: parts.reduce((n, p) => n + p.running, 0),
  };
}

export function sumMetrics(parts: PoolMetrics[]): PoolMetrics {
  if (parts.length === 1) return parts[0]!;
  const sum = (k: "queued" | "running") => parts.reduce((n, p) => n + p[k], 0);
  const max = (k: "live_runners" | "slots" | "oldest_queued_age_s" | "waiting_runners") =>
    Math.max(0, ...parts.map((p) => p[k]));
  const slots = max("slots");
  const running = sum("running");
  const queued = sum("queued");
  const typical = typicalRunMs(parts.map((p) => p.typical_run_ms));
  const wait = estimateWaitMs(queued + 1, { slots, running, recentRunMs: [typical] });
  return {
    queued,
    running,
    live_runners: max("live_runners"),
    waiting_runners: max("waiting_runners"),
    slots,
    free_slots: Math.max(0, slots - running),
    oldest_queued_age_s: max("oldest_queued_age_s"),
    estimated_wait_s: wait === null ? null : wait / 1000,
    typical_run_ms: typical,
  };
}

/** GET /v1/pools counts of `pool` over its shards. */
export async function poolStatsAll(env: Env, pool: string): Promise<PoolStats> {
  const stubs = await allShardStubs(env, pool);
  return sumStats(await Promise.all(stubs.map((s) => s.stats())));
}

/** Metrics (Prometheus, wait estimates, group loads) of `pool` over its shards. */
export async function poolMetricsAll(env: Env, pool: string): Promise<PoolMetrics> {
  const stubs = await allShardStubs(env, pool);
  return sumMetrics(await Promise.all(stubs.map((s) => s.metrics())));
}
