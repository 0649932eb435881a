/** Job DO view -> public Job shape, minting signed output URLs when read. */
import type { Job } from "../../../shared/contract/index.ts";
import { jobObjectId } from "../../../shared/job-id.ts";
import { type JobView, toPublicJob } from "../../../shared/job-view.ts";
import { Presigner } from "../../../shared/presign.ts";
import type { JobDO } from "./job-do.ts";

/** The job DO's RPC surface (typed stub: values crossing it are JSON-typed, see contract JsonValue). */
export type JobApi = DurableObjectStub<JobDO>;

export function jobStubById(ns: DurableObjectNamespace<JobDO>, id: DurableObjectId): JobApi {
  return ns.get(id);
}

/** The job's object, or null when `jobId` is not a job id (shared/job-id.ts maps both id forms). */
export function jobStub(env: { JOBS: DurableObjectNamespace<JobDO> }, jobId: string): JobApi | null {
  const id = jobObjectId(env.JOBS, jobId);
  return id ? jobStubById(env.JOBS, id) : null;
}

export function publicJob(view: JobView, env: Env, origin: string): Promise<Job> {
  return toPublicJob(view, new Presigner(env, origin));
}
