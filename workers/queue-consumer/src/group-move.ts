/**
 * A re-queued job of a pool group, or a re-sent dispatch of one still not leased (docs/capabilities.md
 * "Regions and failover"): before the attempt is queued, the consumer asks the job's pool whether a live
 * runner can run it within the group's `max_wait_s`; if not, it asks the other members in the group's order
 * and moves the job to the first that can (the job object records the move and is the judge: a job that no
 * longer waits for this attempt does not move).
 */
import type { DispatchMessage, PoolPlacement } from "@comfy-edge/shared/contract";
import { type MemberState, pickMember } from "@comfy-edge/shared/pool-groups/choose";
import { jobObject, jobPoolObject } from "./stubs.ts";

type MoveEnv = Pick<ConsumerEnv, "JOBS" | "POOLS" | "DB">;

function state(pool: string, p: PoolPlacement): MemberState {
  return { pool, live: p.live_runners > 0, capable: p.capable, wait_s: p.estimated_wait_s };
}

/** A member's placement as seen by the shard the job would land on (a 1-shard pool: its object). */
async function placement(env: MoveEnv, pool: string, jobId: string, needs: DispatchMessage["needs"]) {
  const { stub, shards } = await jobPoolObject(env, pool, jobId);
  return stub.placement(needs ?? null, shards);
}

/** A first dispatch this fresh was placed at submit: not checked again. */
const FRESH_MS = 10_000;

/** The message to enqueue (moved or not), or null when the job no longer waits for this attempt. */
export async function placeRequeued(env: MoveEnv, msg: DispatchMessage): Promise<DispatchMessage | null> {
  const group = msg.group;
  if (!group || group.members.length < 2) return msg;
  // Re-queued attempts, and re-sends of a dispatch still not leased (the job's outbox re-sends it after 30 s,
  // doubling), are checked: a job waiting in a member whose runners went away moves.
  if (msg.attempt <= 1 && Date.now() - (msg.queued_at ?? 0) < FRESH_MS) return msg;
  const max = group.max_wait_s;
  const fine = (s: MemberState) => s.live && s.capable && (max === null || s.wait_s === null || s.wait_s <= max);
  const needs = msg.needs ?? null;
  const here = state(msg.pool, await placement(env, msg.pool, msg.job_id, needs));
  if (fine(here)) return msg;
  const states: MemberState[] = [];
  for (const m of group.members) {
    if (m.pool === msg.pool) {
      states.push(here);
      continue;
    }
    const s = state(m.pool, await placement(env, m.pool, msg.job_id, needs));
    states.push(s);
    if (fine(s)) break;
  }
  const chosen = pickMember(states, max);
  if (!chosen || chosen.pool === msg.pool) return msg;
  const moved = await jobObject(env, msg.job_id).movePool(msg.attempt, msg.pool, chosen.pool);
  // A re-sent attempt waits in the old pool's queue too: take it out (the old pool's metrics stay honest).
  if (moved) await (await jobPoolObject(env, msg.pool, msg.job_id)).stub.release(msg.job_id, msg.attempt);
  return moved;
}
