/**
 * Job transitions inside one storage transaction: each mutates the state and records, through `tx`, the
 * events and the outbox rows it owes. The payload builders are pure.
 */
import type { DispatchMessage, JobError, WebhookEvent, WebhookMessage } from "@comfy-edge/shared/contract";
import type { IndexRow, Outbox } from "./outbox.ts";
import { type JobEventRecord, type JobState, viewOf } from "./state.ts";

export interface JobTx {
  /** Appends an event (and the webhook it owes) to the job. */
  event(s: JobState, type: JobEventRecord["type"], data: Record<string, unknown>, now: number): JobEventRecord;
  outbox: Outbox;
}

const PROGRESS_WEBHOOK_MIN_MS = 2000;
const WEBHOOK_TYPES: Partial<Record<JobEventRecord["type"], WebhookEvent>> = {
  started: "job.started",
  progress: "job.progress",
  succeeded: "job.succeeded",
  failed: "job.failed",
  canceled: "job.canceled",
};

export function indexPayload(s: JobState): IndexRow {
  return {
    id: s.id,
    tenant_id: s.tenant_id,
    pool: s.pool,
    status: s.status,
    seq: s.seq,
    created_at: s.created_at,
    completed_at: s.completed_at,
    key_id: s.key_id,
    run_ms: s.stats.run_ms,
  };
}

export function dispatchPayload(s: JobState): DispatchMessage {
  return {
    type: "dispatch",
    job_id: s.id,
    attempt: s.next_attempt,
    tenant_id: s.tenant_id,
    pool: s.pool,
    max_running: s.max_running,
    inputs: s.inputs,
    image_allowlist: s.image_allowlist,
    ...(s.needs ? { needs: s.needs } : {}),
    ...(s.group ? { group: s.group, queued_at: s.queued_at } : {}),
  };
}

/** The webhook event `e` owes, if the job subscribed to it (progress at most every 2 s). */
export function webhookMessage(s: JobState, e: JobEventRecord): WebhookMessage | null {
  const type = WEBHOOK_TYPES[e.type];
  if (!type || !s.webhook?.events.includes(type)) return null;
  if (type === "job.progress") {
    if (e.at - (s.last_progress_webhook_at ?? 0) < PROGRESS_WEBHOOK_MIN_MS) return null;
    s.last_progress_webhook_at = e.at;
  }
  return {
    event_id: `evt_${s.id.slice(4)}_${e.seq}`,
    type,
    sequence: e.seq,
    at: e.at,
    job_id: s.id,
    tenant_id: s.tenant_id,
    url: s.webhook.url,
    origin: s.origin ?? "",
    job: viewOf(s),
  };
}

/**
 * The attempt's public `started` event, once per attempt: when the runner reports `started` (with the values
 * it chose, e.g. seeds given as -1), or before its first other report if it sends none. The job turned
 * `running` at the lease (`started_at`); a lease that ends without a report records no `started`.
 */
export function recordStarted(tx: JobTx, s: JobState, now: number): void {
  // undefined: leased before this field existed, when `started` was recorded at the lease.
  if (s.started_event_attempt === undefined || s.started_event_attempt === s.attempt || !s.lease) return;
  s.started_event_attempt = s.attempt;
  tx.event(
    s,
    "started",
    {
      attempt: s.attempt,
      runner_id: s.lease.runner_id,
      ...(s.resolved_inputs ? { resolved_inputs: s.resolved_inputs } : {}),
    },
    now,
  );
}

/** The job left the queue (first start or end): give back its slot of the tenant's queued-job counter. */
export function releaseSlot(tx: JobTx, s: JobState, now: number): void {
  if (!s.queue_slot) return;
  s.queue_slot = false;
  tx.outbox.add({ kind: "slot_release", payload: { tenant_id: s.tenant_id, job_id: s.id } }, now);
}

export function finish(
  tx: JobTx,
  s: JobState,
  status: "succeeded" | "failed" | "canceled",
  now: number,
  error: JobError | null,
): void {
  const released = s.lease !== null ? s.lease.attempt : s.next_attempt;
  s.status = status;
  s.completed_at = now;
  s.error = error;
  s.lease = null;
  s.progress = status === "succeeded" ? s.progress : null;
  if (s.started_at !== null && s.stats.run_ms === null) s.stats.run_ms = now - s.started_at;
  s.stats.total_ms = now - s.created_at;
  tx.outbox.dropKind("dispatch");
  tx.event(s, status, error ? { error } : {}, now);
  tx.outbox.add({ kind: "index", payload: indexPayload(s) }, now);
  tx.outbox.add({ kind: "pool_release", payload: { pool: s.pool, job_id: s.id, attempt: released } }, now);
  releaseSlot(tx, s, now);
  const keep = status === "succeeded" ? s.attempt : null;
  if (s.upload_attempts.some((a) => a !== keep)) tx.outbox.add({ kind: "sweep", payload: { keep_attempt: keep } }, now);
}

export function requeue(tx: JobTx, s: JobState, now: number, reason: string, counted: boolean): void {
  if (counted) s.attempts_counted += 1;
  const hadLease = s.lease !== null;
  s.status = "queued";
  s.lease = null;
  s.progress = null;
  s.cancel_requested = false;
  s.next_attempt = s.attempt + 1;
  s.queued_at = now;
  tx.event(s, "queued", { attempt: s.next_attempt, reason }, now);
  if (hadLease) {
    tx.outbox.add({ kind: "pool_release", payload: { pool: s.pool, job_id: s.id, attempt: s.attempt } }, now);
  }
  tx.outbox.add({ kind: "dispatch", payload: dispatchPayload(s) }, now);
}

/** The lease ran out without word from the runner: re-queue within the attempt budget, else fail. */
export function expireLease(tx: JobTx, s: JobState, now: number): void {
  if (s.cancel_requested) finish(tx, s, "canceled", now, null);
  else if (s.attempts_counted + 1 < s.max_attempts)
    requeue(tx, s, now, "lease expired: the runner stopped reporting", true);
  else {
    s.attempts_counted += 1;
    finish(tx, s, "failed", now, {
      code: "runner_lost",
      message: `The runner stopped reporting on ${s.max_attempts} attempts.`,
    });
  }
}
