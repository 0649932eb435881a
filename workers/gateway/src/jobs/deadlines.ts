/** Pure: the deadlines of a job (lease expiry, run limits, queue time limit) and what is due at a time. */
import type { JobError } from "@comfy-edge/shared/contract";
import type { JobConfig } from "./config.ts";
import type { JobState } from "./state.ts";

/** A runner reports its own timeout; the job object steps in this long after `timeout_s`. */
export const TIMEOUT_GRACE_MS = 60_000;

export type AlarmAction = { kind: "lease_expired" } | { kind: "fail"; error: JobError };

/**
 * When the running attempt must be over, and the error it fails with: the job's `timeout_s` (plus a grace
 * for the runner to report it) or the longest run allowed (the deployment's MAX_RUN_S, or the tenant's
 * `max_run_s` if lower), whichever comes first. Enforced even while the runner heartbeats.
 */
export function runLimit(s: JobState, cfg: JobConfig): { at: number; error: JobError } | null {
  if (s.status !== "running" || s.started_at === null) return null;
  const tenantLower = s.max_run_s !== null && s.max_run_s * 1000 < cfg.maxRunMs;
  const maxRunS = tenantLower ? s.max_run_s! : cfg.maxRunMs / 1000;
  const byMax = {
    at: s.started_at + maxRunS * 1000,
    error: {
      code: "max_run_time_exceeded",
      message: `The job ran longer than the maximum run time of ${maxRunS} s (${tenantLower ? "this tenant's limits.max_run_s" : "the deployment's MAX_RUN_S"}) and was stopped. Split the work into shorter jobs, or ask the operator for a higher limit.`,
      details: { max_run_s: maxRunS },
    },
  };
  if (s.timeout_s === null) return byMax;
  const byTimeout = {
    at: s.started_at + s.timeout_s * 1000 + TIMEOUT_GRACE_MS,
    error: { code: "job_timeout", message: `The job ran longer than its timeout_s of ${s.timeout_s} s.` },
  };
  return byTimeout.at <= byMax.at ? byTimeout : byMax;
}

/** What the alarm must do for the job at `now` (outbox rows aside), if anything. */
export function dueAction(s: JobState, now: number, cfg: JobConfig): AlarmAction | null {
  if (s.status === "running" && s.lease && s.lease.expires_at <= now) return { kind: "lease_expired" };
  const run = runLimit(s, cfg);
  if (run && run.at <= now) return { kind: "fail", error: run.error };
  if (s.status === "queued" && s.queue_deadline <= now) {
    return {
      kind: "fail",
      error: {
        code: "no_capacity",
        message: `No runner of pool '${s.pool}' took the job within its queue time limit of ${Math.round((s.queue_deadline - s.created_at) / 1000)} s.`,
      },
    };
  }
  return null;
}

/** The job's own deadlines (the outbox adds its rows' times). */
export function jobDeadlines(s: JobState, cfg: JobConfig): number[] {
  const times: number[] = [];
  if (s.status === "running" && s.lease) times.push(s.lease.expires_at);
  const run = runLimit(s, cfg);
  if (run) times.push(run.at);
  if (s.status === "queued") times.push(s.queue_deadline);
  return times;
}
