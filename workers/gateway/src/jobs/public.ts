/** Job DO view -> public Job shape, minting signed output URLs when read. */
import type { Job } from "../../../shared/contract/index.ts";
import { type JobView, toPublicJob } from "../../../shared/job-view.ts";
import { Presigner } from "../../../shared/presign.ts";
import type { JobDO } from "./job-do.ts";

/**
 * The job DO's RPC surface with its declared types (workers-types' Rpc mapping turns values typed
 * `unknown`, such as workflow inputs and metadata, into `never`; the values are JSON at runtime).
 */
export type JobApi = Pick<
  JobDO,
  | "create"
  | "createCached"
  | "get"
  | "cancel"
  | "waitFor"
  | "remove"
  | "grantLease"
  | "heartbeat"
  | "checkLease"
  | "waitCancel"
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

export function publicJob(view: JobView, env: Env, origin: string): Promise<Job> {
  return toPublicJob(view, new Presigner(env, origin));
}
