/** What a job Durable Object stores, and the view it returns (storage layout: STORAGE.md). */

import type { z } from "zod";
import type { JobView, StoredOutput } from "../../../shared/job-view.ts";

export type { JobView, StoredOutput };

import type {
  JobError,
  JobInputRef,
  JobStatus,
  OutputOptions,
  WebhookEvent,
  Workflow,
} from "../../../shared/contract/index.ts";

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
  outputs: StoredOutput[];
  error: JobError | null;
  metadata: Record<string, unknown>;
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
    attempt: s.attempt,
    progress: s.progress,
    outputs: s.outputs,
    error: s.error,
    metadata: s.metadata,
    stats: s.stats,
    seq: s.seq,
  };
}

export interface JobEventRecord {
  seq: number;
  type: "queued" | "started" | "progress" | "output" | "succeeded" | "failed" | "canceled";
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
  metadata: Record<string, unknown>;
  inputs: JobInputRef[];
  max_running: number | null;
  queue_timeout_s: number;
  image_allowlist: string[] | null;
  webhook: JobState["webhook"];
  idempotency: JobState["idempotency"];
  origin: string | null;
}

export type CreateResult = { status: "created" | "existing"; job: JobView } | { status: "conflict"; job: JobView };

export type FenceResult<T> = ({ ok: true } & T) | { ok: false; code: "lease_lost" | "job_not_found"; message: string };
