/** Job DO view -> public Job shape, minting signed output URLs when read. */
import type { Job } from "@comfy-edge/shared/contract";
import { jobObjectId } from "@comfy-edge/shared/job-id";
import { type JobView, toPublicJob } from "@comfy-edge/shared/job-view";
import { Presigner } from "@comfy-edge/shared/presign";
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
