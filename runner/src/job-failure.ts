import type { JobError } from "@comfy-edge/shared/contract/jobs";

/** A failure with the job's error, decided by the runner. */
export class JobFailure extends Error {
  readonly error: JobError;
  readonly retryable: boolean;
  constructor(error: JobError, retryable: boolean) {
    super(error.message);
    this.name = "JobFailure";
    this.error = error;
    this.retryable = retryable;
  }
}
