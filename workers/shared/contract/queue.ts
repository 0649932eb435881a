/** Queue message bodies (Queue "jobs"). References only: the 128 KB limit never applies to workflows. */
import { z } from "zod";

export const JobInputRef = z.discriminatedUnion("kind", [
  /** Fetch at the edge (URL guard) and store under `key`. */
  z.object({ kind: z.literal("url"), node_id: z.string(), url: z.string(), key: z.string() }),
  /** Already in R2 (data: URL stored at submit, or a client upload). */
  z.object({ kind: z.literal("r2"), node_id: z.string(), key: z.string() }),
]);
export type JobInputRef = z.infer<typeof JobInputRef>;

/** What a job needs from a runner: its node classes and model files (docs/capabilities.md). */
export const DispatchNeeds = z.object({
  node_classes: z.array(z.string()),
  models: z.array(z.object({ folder: z.string(), name: z.string() })),
  /**
   * Model files the job names by URL (docs/models.md), by folder and SHA-256 of the URL: not required (the
   * runner downloads them), but a runner that already holds them is preferred.
   */
  url_models: z.array(z.object({ folder: z.string(), url_sha256: z.string() })).optional(),
});
export type DispatchNeeds = z.infer<typeof DispatchNeeds>;

/**
 * A job submitted to a pool group: its members in the order of preference chosen at submit (nearest first),
 * and the group's failover threshold. A re-queued job may move to another member (docs/capabilities.md).
 */
export const DispatchGroup = z.object({
  name: z.string(),
  members: z.array(z.object({ pool: z.string(), region: z.string().nullable() })),
  max_wait_s: z.number().nullable(),
});
export type DispatchGroup = z.infer<typeof DispatchGroup>;

export const DispatchMessage = z.object({
  type: z.literal("dispatch"),
  job_id: z.string(),
  attempt: z.int().min(1),
  tenant_id: z.string(),
  pool: z.string(),
  max_running: z.int().nullable(),
  inputs: z.array(JobInputRef),
  image_allowlist: z.array(z.string()).nullable(),
  /** Checked at submit against the pool's capabilities; absent when the pool had no report then. */
  needs: DispatchNeeds.nullish(),
  /** Submitted to a pool group: the consumer may move a re-queued attempt to another member. */
  group: DispatchGroup.nullish(),
  /** With `group`: when the attempt was queued (ms); an older message (a re-send) re-checks the member. */
  queued_at: z.number().optional(),
});
export type DispatchMessage = z.infer<typeof DispatchMessage>;

export const JobsQueueMessage = z.discriminatedUnion("type", [DispatchMessage]);
export type JobsQueueMessage = z.infer<typeof JobsQueueMessage>;
