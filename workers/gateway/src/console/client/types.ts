/** The API shapes the console reads (the public contract, workers/shared/contract/jobs.ts). */
export interface JobOutput {
  index: number;
  node_id: string;
  filename: string;
  content_type: string;
  size: number;
  url: string;
}

export interface JobError {
  code: string;
  message: string;
  node_id?: string;
  node_type?: string;
  details?: unknown;
}

export interface Job {
  id: string;
  status: "queued" | "running" | "succeeded" | "failed" | "canceled";
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  pool: string;
  attempt: number;
  cancel_requested: boolean;
  progress: { value: number; max: number; node_id: string | null } | null;
  outputs: JobOutput[];
  error: JobError | null;
  metadata: Record<string, unknown>;
  stats: { queue_ms: number | null; run_ms: number | null; upload_ms: number | null; total_ms: number | null };
  /** Values the runner chose (a seed given as -1 becomes the seed that ran), by node id and input name. */
  resolved_inputs?: Record<string, Record<string, unknown>> | null;
  /** On a template run: which template version ran, and the inputs it used. */
  template?: { name: string; version: number; ref: string; inputs: Record<string, unknown> };
  /** While queued, where the deployment reports it: place in the pool's queue, estimated start, what is missing. */
  queue_position?: number;
  estimated_start_at?: string | null;
  waiting_for?: { node_class: string } | { model: { folder: string; name: string } } | null;
  /** Answered from the output cache: the job whose outputs these are. */
  cached_from?: string;
}

export interface JobEvent {
  sequence: number;
  type: string;
  at: string;
  [key: string]: unknown;
}

export const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

export function parseEvent(data: string): JobEvent | null {
  try {
    const value = JSON.parse(data) as JobEvent;
    return typeof value === "object" && value !== null && typeof value.type === "string" ? value : null;
  } catch {
    return null;
  }
}
