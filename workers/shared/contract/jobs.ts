/** Public job API shapes (design.md "Jobs") and the ComfyUI API-format workflow. */
import { z } from "zod";
import { JsonValue } from "./common.ts";

/** ComfyUI node ids are strings ("3", "12", "4:7" for group nodes). */
export const NodeId = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, "node ids are 1-64 letters, digits or _ . : -");

/** A link to another node's output: `[node_id, output_index]`. */
export const Link = z.tuple([NodeId, z.int().min(0).max(1000)]);

export function isLink(value: unknown): value is [string, number] {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    typeof value[0] === "string" &&
    Number.isInteger(value[1]) &&
    (value[1] as number) >= 0
  );
}

const Literal = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.null(),
  z.array(JsonValue),
  z.record(z.string(), JsonValue),
]);

/** Keys besides these are kept as they came (any JSON value). */
export const WorkflowNode = z
  .object({
    class_type: z.string().min(1).max(200),
    inputs: z.record(z.string().min(1).max(200), Literal),
    _meta: JsonValue.optional(),
  })
  .catchall(JsonValue);

export const Workflow = z
  .record(NodeId, WorkflowNode)
  .refine((w) => Object.keys(w).length > 0, "the workflow has no nodes")
  .refine((w) => Object.keys(w).length <= 5000, "the workflow has more than 5000 nodes");
export type Workflow = z.infer<typeof Workflow>;

export const WebhookEvent = z.enum(["job.started", "job.progress", "job.succeeded", "job.failed", "job.canceled"]);
export type WebhookEvent = z.infer<typeof WebhookEvent>;
export const DEFAULT_WEBHOOK_EVENTS: WebhookEvent[] = ["job.started", "job.succeeded", "job.failed", "job.canceled"];

export const OutputOptions = z
  .object({ format: z.enum(["png", "jpeg", "webp"]), quality: z.int().min(1).max(100).optional() })
  .strict();

export const JobCreate = z
  .object({
    workflow: Workflow,
    pool: z
      .string()
      .regex(/^(group:)?[a-z0-9][a-z0-9-]{0,62}$/, "must be a pool name or group:<pool group name>")
      .optional()
      .describe(
        "The pool to run on, or `group:<name>` for a pool group: the gateway picks the member nearest the request that can run the job (docs/capabilities.md)",
      ),
    webhook: z
      .object({ url: z.string().min(1).max(2048), events: z.array(WebhookEvent).min(1).max(5).optional() })
      .strict()
      .optional(),
    output: OutputOptions.optional(),
    metadata: z
      .record(z.string().max(64), z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]))
      .refine((m) => Object.keys(m).length <= 32, "at most 32 metadata keys")
      .optional(),
    timeout_s: z
      .int()
      .min(1)
      .max(24 * 3600)
      .optional(),
    max_wait_s: z
      .number()
      .min(0)
      .max(24 * 3600)
      .optional()
      .describe(
        "Refuse the job (503 pool_saturated, Retry-After) unless the pool estimates it starts within this many seconds",
      ),
    cache: z
      .boolean()
      .optional()
      .describe(
        "false: never answer from the output cache. A deterministic graph (every seed fixed) that a succeeded job of this tenant ran within 24 h is otherwise answered with that job's outputs (x-cache: HIT)",
      ),
  })
  .strict();
export type JobCreate = z.infer<typeof JobCreate>;

export const JobStatus = z.enum(["queued", "running", "succeeded", "failed", "canceled"]);
export type JobStatus = z.infer<typeof JobStatus>;
export const TERMINAL: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "canceled"]);

export const JobError = z.object({
  code: z.string(),
  message: z.string(),
  node_id: z.string().optional(),
  node_type: z.string().optional(),
  details: JsonValue.optional(),
});
export type JobError = z.infer<typeof JobError>;

export const JobOutput = z.object({
  index: z.int(),
  node_id: z.string(),
  filename: z.string(),
  content_type: z.string(),
  size: z.int(),
  url: z.string().describe("Signed URL, valid for about an hour from when the job was read"),
});
export type JobOutput = z.infer<typeof JobOutput>;

export const JobStats = z.object({
  queue_ms: z.number().nullable(),
  run_ms: z.number().nullable(),
  upload_ms: z.number().nullable(),
  total_ms: z.number().nullable(),
});

export const JobTemplate = z
  .object({
    name: z.string(),
    version: z.int(),
    ref: z.string().describe("name@version"),
    inputs: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .describe(
        "The inputs the run used: the ones given and the named inputs' defaults; a seed given as -1 shows the seed that ran once the runner reports it",
      ),
  })
  .meta({ id: "JobTemplate" });

/** A step run before the job was queued (the Images API's prompt_enhance, docs/images.md). */
export const JobStep = z
  .object({
    type: z.literal("llm"),
    model: z.string(),
    usage: z.object({ prompt_tokens: z.int(), completion_tokens: z.int(), total_tokens: z.int() }).nullable(),
    cache: z.enum(["HIT", "MISS", "BYPASS"]),
    output: z.string(),
  })
  .meta({ id: "JobStep" });
export type JobStep = z.infer<typeof JobStep>;

/** Where a queued job stands in its pool (GET /v1/jobs/:id only; docs/capabilities.md). */
export const JobQueueInfo = {
  queue_position: z.int().optional().describe("While queued (GET /v1/jobs/:id): 1-based place in the pool's queue"),
  estimated_start_at: z
    .string()
    .nullable()
    .optional()
    .describe("While queued: when the pool estimates the job starts (null: no live runner)"),
  waiting_for: z
    .union([
      z.object({ node_class: z.string() }),
      z.object({ model: z.object({ folder: z.string(), name: z.string() }) }),
      z.object({ inputs: z.literal("fetching") }),
    ])
    .nullable()
    .optional()
    .describe(
      "While queued: what no live runner of the pool has (a node class or a model file), or {inputs: fetching} while the edge fetches the job's URL images; null if some runner can run it",
    ),
};

export const Job = z
  .object({
    id: z.string(),
    status: JobStatus,
    created_at: z.string(),
    started_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    pool: z.string(),
    pool_group: z
      .string()
      .optional()
      .describe('Submitted to a pool group (`pool: "group:<name>"`): the group; `pool` is the member it went to'),
    region: z.string().nullable().optional().describe("With pool_group: the region of the member `pool`"),
    attempt: z
      .int()
      .describe(
        "The attempt the job runs, last ran or (while queued) waits for, from 1; 0 if it ended before it started",
      ),
    cancel_requested: z
      .boolean()
      .describe("A cancel was asked for; true until the runner has stopped and the job is canceled"),
    progress: z.object({ value: z.number(), max: z.number(), node_id: z.string().nullable() }).nullable(),
    resolved_inputs: z
      .record(z.string(), z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])))
      .nullable()
      .describe(
        'Values the runner chose for the current attempt, by node id and input name: a seed given as -1 becomes the seed that ran, e.g. {"3": {"seed": 8273645}}. null until the runner reports them (or if it chose none)',
      ),
    outputs: z.array(JobOutput),
    error: JobError.nullable(),
    metadata: z.record(z.string(), JsonValue),
    stats: JobStats,
    ...JobQueueInfo,
    template: JobTemplate.optional().describe("Present on a template run (POST /v1/templates/:name/runs)"),
    steps: z.array(JobStep).optional().describe("Steps run before the job was queued (an LLM writing the prompt)"),
    cached_from: z
      .string()
      .optional()
      .describe("Answered from the output cache: the job whose outputs these are (copied; no GPU time)"),
  })
  .meta({ id: "Job" });
export type Job = z.infer<typeof Job>;

export const JobListQuery = z
  .object({
    status: JobStatus.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(200).optional(),
  })
  .strict();

export const FileCreate = z
  .object({
    filename: z.string().min(1).max(200).optional(),
    content_type: z.enum(["image/png", "image/jpeg", "image/webp", "image/gif"]),
  })
  .strict();

export const FileUpload = z
  .object({ id: z.string(), upload_url: z.string(), expires_at: z.string(), content_type: z.string() })
  .meta({ id: "FileUpload" });
