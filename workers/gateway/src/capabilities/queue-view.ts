/** A queued job's place, estimated start and what it waits for, from its pool's object (one call, queued jobs only). */
import type { Job } from "@comfy-edge/shared/contract";
import { iso } from "../lib/time.ts";
import { jobShardStub } from "../pools/shards.ts";

export async function withQueueInfo(env: Env, job: Job): Promise<Job> {
  if (job.status !== "queued") return job;
  const { stub, shards } = await jobShardStub(env, job.pool, job.id);
  const info = await stub.queueInfo(job.id, shards);
  // Not in the pool's queue yet (the dispatch is on its way) or being leased: nothing to add.
  if (!info) return job;
  return {
    ...job,
    queue_position: info.position,
    estimated_start_at: info.estimated_start_at === null ? null : iso(info.estimated_start_at),
    waiting_for: info.waiting_for,
  };
}
