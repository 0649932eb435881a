/** Job DO view -> public Job shape, minting signed output URLs when read. */
import type { Job } from "../../../shared/contract/index.ts";
import { jobObjectId } from "../../../shared/job-id.ts";
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

/** The job's object, or null when `jobId` is not a job id (shared/job-id.ts maps both id forms). */
export function jobStub(env: { JOBS: DurableObjectNamespace }, jobId: string): JobApi | null {
  const id = jobObjectId(env.JOBS, jobId);
  return id ? jobStubById(env.JOBS, id) : null;
}

export function publicJob(view: JobView, env: Env, origin: string): Promise<Job> {
  return toPublicJob(view, new Presigner(env, origin));
}
