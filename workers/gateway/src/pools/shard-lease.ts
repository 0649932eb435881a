/**
 * A runner's lease on a sharded pool (docs/capabilities.md §7). First every shard is asked without waiting,
 * starting at a random one (so each shard's queue is served in turn and none starves while another has
 * work); a busy pool answers the first call. When no shard has work for the runner, the poll parks on every
 * shard at once: the first grant wins, and the polls left on the other shards are dropped (their `alive`
 * check answers no) before they take a job. A 1-shard pool: one long poll on the pool's object, as before.
 */
import { leaseOrder } from "@comfy-edge/shared/pool-shards/route";
import { jobStub } from "../jobs/public.ts";
import type { LeaseGrantInternal } from "../jobs/state.ts";
import { poolStub } from "./access.ts";
import type { RunnerInfo } from "./pool-do.ts";
import { disposeRpcResult, takeRpcData } from "./rpc-result.ts";
import { poolShards, shardStub } from "./shards.ts";

export type LeaseOutcome = LeaseGrantInternal | null | "capabilities_required";

export interface LeaseCall {
  runner: RunnerInfo;
  waitMs: number;
  /** Whether the runner is still there (the lost-grant check, pools/lost-grant.ts). */
  alive: () => boolean;
  /** Keeps the request's context until every parked poll has answered (late grants are given back). */
  waitUntil: (p: Promise<unknown>) => void;
}

export async function leaseFromPool(env: Env, pool: string, call: LeaseCall): Promise<LeaseOutcome> {
  const { runner, waitMs, alive } = call;
  const shards = await poolShards(env, pool);
  // Each lease result is read into a plain copy and disposed at once (pools/rpc-result.ts).
  if (shards <= 1) return takeRpcData<LeaseOutcome>(poolStub(env, pool).lease(pool, runner, waitMs, alive));
  const stubs = Array.from({ length: shards }, (_, i) => shardStub(env, pool, i));
  for (const i of leaseOrder(shards, Math.floor(Math.random() * shards))) {
    const got = await takeRpcData<LeaseOutcome>(stubs[i]!.lease(pool, runner, 0, alive));
    if (got) return got;
  }
  if (waitMs <= 0) return null;
  let settled = false;
  const parkedAlive = () => !settled && alive();
  return new Promise<LeaseOutcome>((resolve) => {
    const polls = stubs.map(async (stub) => {
      const got = await takeRpcData<LeaseOutcome>(stub.lease(pool, runner, waitMs, parkedAlive, true));
      if (!got) return;
      if (!settled) {
        settled = true;
        resolve(got);
      } else if (got !== "capabilities_required") {
        // Two shards granted in the same instant: the second job goes back to its queue (no attempt counted).
        disposeRpcResult(await jobStub(env, got.job_id)?.giveBack(got.attempt, pool));
      }
    });
    const all = Promise.allSettled(polls).then(() => {
      if (!settled) {
        settled = true;
        resolve(null);
      }
    });
    call.waitUntil(all);
  });
}
