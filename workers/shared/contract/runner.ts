/** Runner <-> gateway wire contract (design.md "Runner"). Parsed on both sides. */
import { z } from "zod";
import { JobError, OutputOptions, Workflow } from "./jobs.ts";

export const LeaseRequest = z
  .object({
    runner_id: z.string().min(1).max(128),
    version: z.string().min(1).max(64),
    comfyui_version: z.string().max(64).nullish(),
    slots: z.int().min(1).max(64).optional(),
    free_slots: z.int().min(0).max(64).optional(),
    wait_s: z.number().min(0).max(25).optional(),
    /**
     * sha256 (hex) of the canonical JSON of this runner's capability report (docs/capabilities.md). A gateway
     * that does not hold that report answers 409 `capabilities_required`: PUT /runner/v1/capabilities, then
     * lease again.
     */
    capabilities_digest: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  })
  .strict();
export type LeaseRequest = z.infer<typeof LeaseRequest>;

export const LeaseInput = z.object({
  node_id: z.string(),
  /** Value to put in the node's `image` input once uploaded to ComfyUI is up to the runner; `name` is a suggested file name. */
  name: z.string(),
  url: z.string(),
  content_type: z.string().nullable(),
});

export const LeaseGrant = z.object({
  lease: z.object({ id: z.string(), attempt: z.int(), expires_at: z.string(), duration_s: z.number() }),
  job: z.object({
    id: z.string(),
    workflow: Workflow,
    output: OutputOptions.nullable(),
    timeout_s: z.number().nullable(),
  }),
  inputs: z.array(LeaseInput),
  /**
   * Presigned PUT URLs for this attempt's outputs, minted with the lease (one per output the workflow is
   * expected to save), so the runner uploads without asking first; it mints more with POST
   * /leases/:id/uploads if it needs more, or when one is about to expire. Absent from older gateways.
   */
  uploads: z.array(z.object({ key: z.string(), upload_url: z.string(), expires_at: z.string() })).optional(),
});
export type LeaseGrant = z.infer<typeof LeaseGrant>;

export const HeartbeatResponse = z.object({ expires_at: z.string(), cancel: z.boolean() });

/**
 * `POST /runner/v1/leases/:id/cancel-wait {wait_s?}`: a long poll the runner keeps open beside a running
 * job. Answered `{cancel: true}` as soon as the client asks to cancel (or at once if it already has),
 * else `{cancel: false}` after `wait_s` (default 20, at most 25); the runner then asks again. 409
 * `lease_lost` when the lease is no longer current (the job ended, timed out or was re-queued): stop.
 * It does not extend the lease: heartbeats still do.
 */
export const CancelWaitRequest = z.object({ wait_s: z.number().min(0).max(25).optional() }).strict();
export type CancelWaitRequest = z.infer<typeof CancelWaitRequest>;
export const CancelWaitResponse = z.object({ cancel: z.boolean() });
export type CancelWaitResponse = z.infer<typeof CancelWaitResponse>;

export const UploadRequest = z
  .object({
    filename: z.string().min(1).max(200),
    content_type: z.string().min(1).max(100),
    node_id: z.string().max(64).optional(),
  })
  .strict();
export const UploadResponse = z.object({ key: z.string(), upload_url: z.string(), expires_at: z.string() });

export const OutputRef = z.object({
  key: z.string().min(1).max(1024),
  node_id: z.string().max(64),
  filename: z.string().max(200),
  content_type: z.string().max(100),
});
export type OutputRef = z.infer<typeof OutputRef>;

export const RunnerStats = z
  .object({ queue_ms: z.number().optional(), run_ms: z.number().optional(), upload_ms: z.number().optional() })
  .strict();

/**
 * Largest sampler preview frame a runner forwards (bytes). ComfyUI sends its latent previews (latent2rgb or
 * TAESD) scaled to fit --preview-size (512 px) as JPEG quality 95: ~30-60 KiB for a real model's image,
 * up to ~100 KiB for the noise of a random-weight checkpoint at 512 px (measured with ComfyUI 0.33). A larger
 * frame is dropped by the runner and refused by the gateway; `--preview-size 256` makes them ~4x smaller.
 */
export const PREVIEW_MAX_BYTES = 128 * 1024;

/**
 * `preview`: a live sampler frame (ComfyUI's binary preview), best effort: at most 1 per second per job,
 * never stored, only passed to the job's SSE subscribers (docs/events.md).
 */
export const RunnerEvent = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("started"),
      prompt_id: z.string().max(100).optional(),
      /** Values the runner chose for the run, by node id and input name (e.g. seeds given as -1). */
      resolved_inputs: z
        .record(z.string().max(64), z.record(z.string().max(64), z.union([z.number(), z.string(), z.boolean()])))
        .optional(),
    })
    .strict(),
  z
    .object({ type: z.literal("progress"), value: z.number(), max: z.number(), node_id: z.string().max(64).nullish() })
    .strict(),
  z
    .object({
      type: z.literal("preview"),
      /** The sampler's node (null: not known). */
      node_id: z.string().max(64).nullable(),
      /** The step the frame shows, of `max` (the latest `progress` of that node), when known. */
      value: z.number().optional(),
      max: z.number().optional(),
      content_type: z.enum(["image/jpeg", "image/png", "image/webp"]),
      /** The frame's bytes, base64 (at most PREVIEW_MAX_BYTES before encoding). */
      image_b64: z.base64().max(Math.ceil(PREVIEW_MAX_BYTES / 3) * 4),
    })
    .strict(),
  z
    .object({ type: z.literal("succeeded"), outputs: z.array(OutputRef).max(1000), stats: RunnerStats.optional() })
    .strict(),
  z
    .object({
      type: z.literal("failed"),
      error: JobError,
      retryable: z.boolean().default(false),
      stats: RunnerStats.optional(),
    })
    .strict(),
  z.object({ type: z.literal("canceled") }).strict(),
]);
export type RunnerEvent = z.infer<typeof RunnerEvent>;

export const EventAck = z.object({ status: z.string(), cancel: z.boolean() });

/**
 * One input of a node class, from ComfyUI's /object_info (docs/capabilities.md). `type` is INT, FLOAT,
 * STRING, BOOLEAN, COMBO or a link type (MODEL, IMAGE, ...: the value must be a link). A COMBO lists its
 * values in `options`, or names the model folder whose files it takes (`folder`, see the report's `models`),
 * or is a file picker of the host's input files (`files`: never checked at the edge).
 */
export const InputCapability = z
  .object({
    type: z.string().min(1).max(200),
    optional: z.literal(true).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    step: z.number().positive().optional(),
    options: z.array(z.string().max(1000)).max(10_000).optional(),
    folder: z.string().min(1).max(100).optional(),
    files: z.literal(true).optional(),
  })
  .strict();
export type InputCapability = z.infer<typeof InputCapability>;

export const NodeClassCapability = z
  .object({
    inputs: z.record(z.string().max(200), InputCapability),
    output_node: z.literal(true).optional(),
  })
  .strict();
export type NodeClassCapability = z.infer<typeof NodeClassCapability>;

/** What one ComfyUI behind a runner can run. Never host paths: model files are named relative to their folder. */
export const CapabilityReport = z
  .object({
    comfyui_version: z.string().max(64).nullable(),
    node_classes: z
      .record(z.string().min(1).max(200), NodeClassCapability)
      .refine((r) => Object.keys(r).length <= 10_000, "at most 10000 node classes"),
    /** Model files per folder (checkpoints, loras, vae, controlnet, upscale_models, embeddings, ...). */
    models: z.record(z.string().min(1).max(100), z.array(z.string().min(1).max(1000)).max(50_000)),
    gpu: z.object({ name: z.string().max(200), vram_bytes: z.number().min(0) }).nullable(),
    slots: z.int().min(1).max(64),
  })
  .strict();
export type CapabilityReport = z.infer<typeof CapabilityReport>;

/** `PUT /runner/v1/capabilities`: the report whose digest the runner sends with its leases. */
export const CapabilitiesPut = z
  .object({ digest: z.string().regex(/^[0-9a-f]{64}$/), report: CapabilityReport })
  .strict();
export type CapabilitiesPut = z.infer<typeof CapabilitiesPut>;
export const CapabilitiesAck = z.object({ digest: z.string(), node_classes: z.int(), models: z.int() });
