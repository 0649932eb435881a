/** Job DO view -> public Job shape, minting signed output URLs when read. */
import type { Job } from "../../../shared/contract/index.ts";
import { iso } from "../lib/time.ts";
import type { JobDO } from "./job-do.ts";
import { Presigner } from "./presign.ts";
import type { JobView } from "./state.ts";

export const OUTPUT_URL_TTL_S = 3600;

/**
 * The job DO's RPC surface with its declared types (workers-types' Rpc mapping turns values typed
 * `unknown`, such as workflow inputs and metadata, into `never`; the values are JSON at runtime).
 */
export type JobApi = Pick<
  JobDO,
  | "create"
  | "get"
  | "cancel"
  | "waitFor"
  | "remove"
  | "grantLease"
  | "heartbeat"
  | "checkLease"
  | "runnerEvent"
  | "giveBack"
  | "failDispatch"
  | "fetch"
>;

export function jobStubById(ns: DurableObjectNamespace, id: DurableObjectId): JobApi {
  return ns.get(id) as unknown as JobApi;
}

export function jobStub(env: { JOBS: DurableObjectNamespace }, jobId: string): JobApi | null {
  if (!/^job_[0-9a-f]{64}$/.test(jobId)) return null;
  try {
    return jobStubById(env.JOBS, env.JOBS.idFromString(jobId.slice(4)));
  } catch {
    return null;
  }
}

export async function publicJob(view: JobView, env: Env, origin: string): Promise<Job> {
  const presigner = view.outputs.length > 0 ? new Presigner(env, origin) : null;
  const outputs = await Promise.all(
    view.outputs.map(async (o) => ({
      index: o.index,
      node_id: o.node_id,
      filename: o.filename,
      content_type: o.content_type,
      size: o.size,
      url: (await presigner!.sign("GET", o.key, OUTPUT_URL_TTL_S)).url,
    })),
  );
  return {
    id: view.id,
    status: view.status,
    created_at: iso(view.created_at),
    started_at: iso(view.started_at),
    completed_at: iso(view.completed_at),
    pool: view.pool,
    attempt: view.attempt,
    progress: view.progress,
    outputs,
    error: view.error,
    metadata: view.metadata,
    stats: view.stats,
  };
}
