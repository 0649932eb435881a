/**
 * Submit-path helpers around the job object's `create`: content-addressed keys for inputs stored at submit,
 * and the answer to a refused create, which first removes what the refused request stored (never an object
 * the existing job uses), so a refused request changes nothing.
 */
import { toHex } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import type { CreateResult } from "./state.ts";

/** Seconds a client is asked to wait when its tenant's queue is full. */
const QUEUE_FULL_RETRY_S = 10;

/**
 * R2 key of an input stored at submit (a `data:` image): named by its bytes, so a request that reuses an
 * Idempotency-Key with other bytes can never overwrite the inputs of the job that key created.
 */
export async function inputKey(jobId: string, nodeId: string, bytes: Uint8Array): Promise<string> {
  const digest = toHex(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return `jobs/${jobId}/inputs/${nodeId}-${digest.slice(0, 32)}`;
}

export type Refused = Extract<CreateResult, { status: "conflict" | "queue_full" }>;

/** The error for a refused create, after removing the objects the request wrote. */
export async function refusal(result: Refused, written: string[], bucket: R2Bucket): Promise<ApiError> {
  const keep = new Set(result.status === "conflict" ? result.input_keys : []);
  const stray = written.filter((k) => !keep.has(k));
  if (stray.length > 0) await bucket.delete(stray);
  if (result.status === "conflict") {
    return new ApiError(
      409,
      "idempotency_conflict",
      "This Idempotency-Key was already used with a different request body. Use a new key for a new job.",
      { param: "Idempotency-Key", details: { job_id: result.job.id } },
    );
  }
  return new ApiError(
    429,
    "too_many_jobs",
    `This tenant already has ${result.held} queued jobs (limit max_queued_jobs = ${result.max}). Submit again when some have started or finished.`,
    { headers: { "retry-after": String(QUEUE_FULL_RETRY_S) } },
  );
}
