/**
 * A runner's lease on a sharded pool (docs/capabilities.md §7). Each round asks every shard without
 * waiting, starting at a random one (so each shard's queue is served in turn and none starves while
 * another has work), then parks the long poll on one shard for at most PARK_MS and starts over until the
 * runner's wait is spent. A 1-shard pool: one long poll on the pool's object, as before.
 */
import { homeShard, leaseOrder } from "@comfy-edge/shared/pool-shards/route";
import type { LeaseGrantInternal } from "../jobs/state.ts";
import { poolStub } from "./access.ts";
import type { PollAlive } from "./lost-grant.ts";
import type { RunnerInfo } from "./pool-do.ts";
import { poolShards, shardStub } from "./shards.ts";

/**
 * How long a poll parks on one shard before the other shards are asked again: the most a job that lands on
 * a shard with no parked runner waits for one parked on another shard (while no runner is busy scanning).
 */
export const PARK_MS = 2_000;

export type LeaseOutcome = LeaseGrantInternal | null | "capabilities_required";

export async function leaseFromPool(
  env: Env,
  pool: string,
  runner: RunnerInfo,
  waitMs: number,
  alive: () => boolean,
): Promise<LeaseOutcome> {
  const shards = await poolShards(env, pool);
  const poll: PollAlive = alive;
  if (shards <= 1) return poolStub(env, pool).lease(pool, runner, waitMs, poll);
  const deadline = Date.now() + waitMs;
  // The first park is on the runner's home shard (spreads parked runners evenly), later ones on a random one.
  let park = homeShard(`${runner.token_id}/${runner.runner_id}`, shards);
  for (;;) {
    for (const i of leaseOrder(shards, Math.floor(Math.random() * shards))) {
      const got = await shardStub(env, pool, i).lease(pool, runner, 0, poll);
      if (got) return got;
    }
    const left = deadline - Date.now();
    if (left <= 0 || !alive()) return null;
    const got = await shardStub(env, pool, park).lease(pool, runner, Math.min(left, PARK_MS), poll);
    if (got) return got;
    if (Date.now() >= deadline || !alive()) return null;
    park = Math.floor(Math.random() * shards);
  }
}
