/** The job as its Durable Object reports it, and its public shape with signed output URLs. */
import type { Job, JobError, JobStatus, JobStep, JsonValue } from "./contract/index.ts";
import type { Presigner } from "./presign.ts";

export const OUTPUT_URL_TTL_S = 3600;

export type StoredOutput = {
  index: number;
  key: string;
  node_id: string;
  filename: string;
  content_type: string;
  size: number;
};

/** node id -> input name -> the value the runner chose (e.g. a seed given as -1). */
export type ResolvedInputs = Record<string, Record<string, number | string | boolean>>;

/** A template run: its template version, the inputs it used, and the `node.input`s of its seeds given as -1. */
export type StoredTemplate = {
  name: string;
  version: number;
  inputs: Record<string, number | string | boolean>;
  seeds: Record<string, string[]>;
};

/** The run's inputs with each seed given as -1 replaced by the one the runner chose (once reported). */
function templateOf(t: StoredTemplate, resolved: ResolvedInputs | null) {
  const inputs = { ...t.inputs };
  for (const [name, targets] of Object.entries(t.seeds)) {
    for (const target of targets) {
      const dot = target.lastIndexOf(".");
      const chosen = resolved?.[target.slice(0, dot)]?.[target.slice(dot + 1)];
      if (inputs[name] === -1 && chosen !== undefined) inputs[name] = chosen;
    }
  }
  return { name: t.name, version: t.version, ref: `${t.name}@${t.version}`, inputs };
}

export type JobView = {
  id: string;
  status: JobStatus;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  pool: string;
  /** Submitted to a pool group: the group, and the region of the member `pool`. */
  pool_group?: string;
  region?: string | null;
  attempt: number;
  /** A cancel was asked for and the runner has not stopped yet. Absent in views stored by older deployments. */
  cancel_requested?: boolean;
  progress: { value: number; max: number; node_id: string | null } | null;
  /** Absent in views stored by older deployments. */
  resolved_inputs?: ResolvedInputs | null;
  /** Set on template runs only. */
  template?: StoredTemplate | null;
  /** Set on a job answered from the output cache: the job whose outputs it copied. */
  cached_from?: string | null;
  /** Steps run before the job was queued (docs/images.md prompt_enhance). */
  steps?: JobStep[];
  /** Queued, and the queue consumer is fetching its URL inputs. */
  fetching_inputs?: boolean;
  outputs: StoredOutput[];
  error: JobError | null;
  metadata: Record<string, JsonValue>;
  stats: { queue_ms: number | null; run_ms: number | null; upload_ms: number | null; total_ms: number | null };
  seq: number;
};

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Mints a signed GET per output (valid OUTPUT_URL_TTL_S from now). */
export async function toPublicJob(view: JobView, presigner: Presigner): Promise<Job> {
  const outputs = await Promise.all(
    view.outputs.map(async (o) => ({
      index: o.index,
      node_id: o.node_id,
      filename: o.filename,
      content_type: o.content_type,
      size: o.size,
      url: (await presigner.signDownload(o.key, o, OUTPUT_URL_TTL_S)).url,
    })),
  );
  return {
    id: view.id,
    status: view.status,
    created_at: iso(view.created_at)!,
    started_at: iso(view.started_at),
    completed_at: iso(view.completed_at),
    pool: view.pool,
    ...(view.pool_group ? { pool_group: view.pool_group, region: view.region ?? null } : {}),
    attempt: view.attempt,
    cancel_requested: view.cancel_requested ?? false,
    progress: view.progress,
    resolved_inputs: view.resolved_inputs ?? null,
    outputs,
    error: view.error,
    metadata: view.metadata,
    stats: view.stats,
    ...(view.template ? { template: templateOf(view.template, view.resolved_inputs ?? null) } : {}),
    ...(view.cached_from ? { cached_from: view.cached_from } : {}),
    ...(view.steps?.length ? { steps: view.steps } : {}),
    ...(view.fetching_inputs ? { waiting_for: { inputs: "fetching" as const } } : {}),
  };
}
