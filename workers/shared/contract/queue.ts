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
});
export type DispatchNeeds = z.infer<typeof DispatchNeeds>;

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
});
export type DispatchMessage = z.infer<typeof DispatchMessage>;

export const JobsQueueMessage = z.discriminatedUnion("type", [DispatchMessage]);
export type JobsQueueMessage = z.infer<typeof JobsQueueMessage>;
