/** What a job Durable Object stores, and the view it returns (storage layout: STORAGE.md). */

import type { DispatchGroup, DispatchNeeds, JobStep, JsonValue } from "@comfy-edge/shared/contract";
import type { JobView, ResolvedInputs, StoredOutput, StoredTemplate } from "@comfy-edge/shared/job-view";
import type { z } from "zod";

export type { JobView, StoredOutput };

import type {
  JobError,
  JobInputRef,
  JobStatus,
  OutputOptions,
  WebhookEvent,
  Workflow,
} from "@comfy-edge/shared/contract";

export const LEASE_MS = 60_000;
export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_QUEUE_TIMEOUT_S = 3600;

export interface JobState {
  id: string;
  tenant_id: string;
  key_id: string;
  pool: string;
  status: JobStatus;
  /** Fencing number of the latest lease (0 before the first). */
  attempt: number;
  /** Attempt number the next lease will carry (the dispatch generation). */
  next_attempt: number;
  /** Attempts that count against max_attempts (a lease given back does not count). */
  attempts_counted: number;
  max_attempts: number;
  created_at: number;
  queued_at: number;
  started_at: number | null;
  completed_at: number | null;
  queue_deadline: number;
  lease: { attempt: number; expires_at: number; runner_id: string } | null;
  cancel_requested: boolean;
  progress: { value: number; max: number; node_id: string | null } | null;
  /** The attempt whose public `started` event was recorded (from the runner's first report); absent in older states. */
  started_event_attempt?: number | null;
  /** Values the runner chose for the current attempt (seeds given as -1); absent in older states. */
  resolved_inputs?: ResolvedInputs | null;
  /** A template run's template version and inputs (routes/templates.ts); absent otherwise. */
  template?: StoredTemplate | null;
  /** Answered from the output cache (templates/output-cache.ts): the job whose outputs it copied. */
  cached_from?: string | null;
  /** Output-cache hash of a deterministic graph: the cache points at this job once it succeeds with outputs. */
  cache_hash?: string | null;
  /** Steps run before it was queued (docs/images.md prompt_enhance). */
  steps?: JobStep[];
  /** The dispatch attempt whose URL inputs the queue consumer is fetching (inputsFetching); absent otherwise. */
  fetching_inputs?: number | null;
  outputs: StoredOutput[];
  error: JobError | null;
  metadata: Record<string, JsonValue>;
  stats: { queue_ms: number | null; run_ms: number | null; upload_ms: number | null; total_ms: number | null };
  output: z.infer<typeof OutputOptions> | null;
  timeout_s: number | null;
  inputs: JobInputRef[];
  max_running: number | null;
  image_allowlist: string[] | null;
  webhook: { url: string; events: WebhookEvent[] } | null;
  idempotency: { key: string; body_hash: string } | null;
  /** Gateway origin at submit: the local R2 endpoint for presigning webhook payload URLs. */
  origin: string | null;
  last_progress_webhook_at: number | null;
  /** Attempts for which upload URLs were minted (their objects are swept unless kept as outputs). */
  upload_attempts: number[];
  /** Upload URLs minted for the current lease (capped per attempt). */
  uploads_minted: number;
  /** The tenant's longest run of one attempt in seconds (null: only the deployment's MAX_RUN_S). */
  max_run_s: number | null;
  /** The job holds a slot of its tenant's queued-job counter (released when it first starts or ends). */
  queue_slot: boolean;
  /** What the job needs from a runner (classes, model files), from the submit-time capability check. */
  needs?: DispatchNeeds | null;
  /** Submitted to a pool group: its members by preference; `pool` is the member it is queued in or ran on. */
  group?: DispatchGroup | null;
  /** Sequence number of the last event. */
  seq: number;
}

export function viewOf(s: JobState): JobView {
  return {
    id: s.id,
    status: s.status,
    created_at: s.created_at,
    started_at: s.started_at,
    completed_at: s.completed_at,
    pool: s.pool,
    ...(s.group
      ? { pool_group: s.group.name, region: s.group.members.find((m) => m.pool === s.pool)?.region ?? null }
      : {}),
    // While queued, the attempt the job waits for (what its `queued` event says); else the current lease's.
    attempt: s.status === "queued" ? s.next_attempt : s.attempt,
    cancel_requested: s.cancel_requested && (s.status === "queued" || s.status === "running"),
    progress: s.progress,
    resolved_inputs: s.resolved_inputs ?? null,
    ...(s.template ? { template: s.template } : {}),
    ...(s.cached_from ? { cached_from: s.cached_from } : {}),
    ...(s.steps?.length ? { steps: s.steps } : {}),
    ...(s.status === "queued" && s.fetching_inputs === s.next_attempt ? { fetching_inputs: true } : {}),
    outputs: s.outputs,
    error: s.error,
    metadata: s.metadata,
    stats: s.stats,
    seq: s.seq,
  };
}

/** What the job object hands the pool dispatcher when it grants a lease. */
export interface LeaseGrantInternal {
  job_id: string;
  attempt: number;
  expires_at: number;
  workflow: Workflow;
  output: JobState["output"];
  timeout_s: number | null;
  inputs: Array<{ node_id: string; key: string }>;
  /** How many output upload URLs the lease carries (on top of the attempt's mint budget). */
  uploads?: number;
}

export interface JobEventRecord {
  seq: number;
  type: "llm" | "queued" | "started" | "progress" | "output" | "succeeded" | "failed" | "canceled";
  data: Record<string, unknown>;
  at: number;
}

export interface CreateJobInput {
  id: string;
  tenant_id: string;
  key_id: string;
  pool: string;
  workflow: Workflow;
  output: JobState["output"];
  timeout_s: number | null;
  metadata: Record<string, JsonValue>;
  inputs: JobInputRef[];
  max_running: number | null;
  queue_timeout_s: number;
  image_allowlist: string[] | null;
  webhook: JobState["webhook"];
  idempotency: JobState["idempotency"];
  origin: string | null;
  /** The tenant's `max_run_s` (null: the deployment's MAX_RUN_S only). */
  max_run_s: number | null;
  /** The tenant's `max_queued_jobs` (null: no limit, no slot reserved). */
  max_queued: number | null;
  /** What the job needs from a runner, checked at submit against the pool's capabilities (docs/capabilities.md). */
  needs?: DispatchNeeds | null;
  /** Submitted to a pool group (pools/groups): the group, members by preference. */
  group?: DispatchGroup | null;
  /** A template run (routes/templates.ts). */
  template?: StoredTemplate;
  /** Steps run before it was queued (docs/images.md). */
  steps?: JobStep[];
  /** Output-cache hash (templates/output-cache.ts) of a deterministic graph run for real. */
  cache_hash?: string | null;
}

export type CreateResult =
  | { status: "created" | "existing"; job: JobView }
  | { status: "conflict"; job: JobView; input_keys: string[] }
  | { status: "queue_full"; held: number; max: number };

export type FenceResult<T> = ({ ok: true } & T) | { ok: false; code: "lease_lost" | "job_not_found"; message: string };

/**
 * Fills fields added after a job was stored, so jobs written by an older deployment keep working after a
 * new one lands (stored states are never rewritten in bulk).
 */
export function upgradeState(stored: Partial<JobState>): JobState {
  return {
    ...stored,
    origin: stored.origin ?? null,
    last_progress_webhook_at: stored.last_progress_webhook_at ?? null,
    upload_attempts:
      stored.upload_attempts ?? (stored.attempt ? Array.from({ length: stored.attempt }, (_, i) => i + 1) : []),
    uploads_minted: stored.uploads_minted ?? 0,
    webhook: stored.webhook ?? null,
    image_allowlist: stored.image_allowlist ?? null,
    max_running: stored.max_running ?? null,
    max_run_s: stored.max_run_s ?? null,
    queue_slot: stored.queue_slot ?? false,
  } as JobState;
}

/** A new job's state (queued for attempt 1). */
export function initialState(input: CreateJobInput, now: number, maxAttempts: number, queueSlot: boolean): JobState {
  return {
    id: input.id,
    tenant_id: input.tenant_id,
    key_id: input.key_id,
    pool: input.pool,
    status: "queued",
    attempt: 0,
    next_attempt: 1,
    attempts_counted: 0,
    max_attempts: maxAttempts,
    created_at: now,
    queued_at: now,
    started_at: null,
    completed_at: null,
    queue_deadline: now + input.queue_timeout_s * 1000,
    lease: null,
    cancel_requested: false,
    progress: null,
    outputs: [],
    error: null,
    metadata: input.metadata,
    stats: { queue_ms: null, run_ms: null, upload_ms: null, total_ms: null },
    output: input.output,
    timeout_s: input.timeout_s,
    inputs: input.inputs,
    max_running: input.max_running,
    image_allowlist: input.image_allowlist,
    webhook: input.webhook,
    idempotency: input.idempotency,
    origin: input.origin,
    last_progress_webhook_at: null,
    upload_attempts: [],
    uploads_minted: 0,
    max_run_s: input.max_run_s,
    queue_slot: queueSlot,
    seq: 0,
    ...(input.needs ? { needs: input.needs } : {}),
    ...(input.group ? { group: input.group } : {}),
    ...(input.template ? { template: input.template } : {}),
    ...(input.steps?.length ? { steps: input.steps } : {}),
    ...(input.cache_hash ? { cache_hash: input.cache_hash } : {}),
  };
}
