/**
 * The gateway's Durable Objects as this worker calls them. wrangler types cannot see another script's
 * classes, so the generated ConsumerEnv types JOBS and POOLS as plain namespaces; the RPC methods the
 * consumer may call are declared once in the contract (shared/contract/rpc.ts, webhooks.ts) and named here:
 * the one place the untyped namespace is narrowed (a plain `as`, no double cast; the gateway's classes implement
 * these interfaces, checked in workers/gateway/src/jobs/job-do.ts and pools/pool-do.ts by `implements`).
 */
import type { JobDispatchRpc, JobWebhookRpc, PoolDispatchRpc } from "@comfy-edge/shared/contract";
import { jobObjectId } from "@comfy-edge/shared/job-id";
import { shardCount } from "@comfy-edge/shared/pool-shards/count";
import { jobShard, shardName } from "@comfy-edge/shared/pool-shards/route";

interface JobObject extends Rpc.DurableObjectBranded, JobDispatchRpc, JobWebhookRpc {}
interface PoolObject extends Rpc.DurableObjectBranded, PoolDispatchRpc {}

/** The job object of `jobId` (shared/job-id.ts maps both id forms); throws on a string that is no job id. */
export function jobObject(env: Pick<ConsumerEnv, "JOBS">, jobId: string): DurableObjectStub<JobObject> {
  const ns = env.JOBS as DurableObjectNamespace<JobObject>;
  const id = jobObjectId(ns, jobId);
  if (!id) throw new Error(`not a job id: ${jobId.slice(0, 80)}`);
  return ns.get(id);
}

/** The dispatcher of pool `pool` (a sharded pool: pass the shard's name, shared/pool-shards/route.ts). */
export function poolObject(env: Pick<ConsumerEnv, "POOLS">, pool: string): DurableObjectStub<PoolObject> {
  const ns = env.POOLS as DurableObjectNamespace<PoolObject>;
  return ns.get(ns.idFromName(pool));
}

/** The shard of `pool` that holds `jobId`, and the pool's shard count (1: the pool's own object). */
export async function jobPoolObject(
  env: Pick<ConsumerEnv, "POOLS" | "DB">,
  pool: string,
  jobId: string,
): Promise<{ stub: DurableObjectStub<PoolObject>; shards: number }> {
  const shards = await shardCount(env, caches.default, pool);
  return { stub: poolObject(env, shardName(pool, jobShard(jobId, shards))), shards };
}
