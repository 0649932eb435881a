/**
 * The data of a job's Server-Sent Events (GET /v1/jobs/:id/events, docs/events.md). Stored events
 * carry `id:` (their sequence, for Last-Event-ID); `preview` is ephemeral: no `id:`, never stored, never in
 * webhooks or the events list, and not replayed except that a subscriber arriving mid-run gets the latest.
 */
import { z } from "zod";

export const JobEventType = z.enum([
  "llm",
  "queued",
  "started",
  "progress",
  "preview",
  "output",
  "succeeded",
  "failed",
  "canceled",
]);
export type JobEventType = z.infer<typeof JobEventType>;

const ResolvedInputs = z.record(z.string(), z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])));

/** `llm`: a step run before the job was queued (an LLM writing an input; one per step, before `queued`). */
export const JobLlmEvent = z
  .object({
    type: z.literal("llm"),
    sequence: z.int(),
    at: z.string(),
    model: z.string(),
    usage: z.object({ prompt_tokens: z.int(), completion_tokens: z.int(), total_tokens: z.int() }).nullable(),
    cache: z
      .enum(["HIT", "MISS", "BYPASS"])
      .describe("The LLM answer cache: HIT when an identical request was answered before"),
    output: z.string().describe("The answer, now the input's value"),
  })
  .meta({ id: "JobLlmEvent" });
export type JobLlmEvent = z.infer<typeof JobLlmEvent>;

/** `started`: the runner queued the attempt's prompt in ComfyUI (or first reported on it). */
export const JobStartedEvent = z
  .object({
    type: z.literal("started"),
    sequence: z.int(),
    at: z.string(),
    attempt: z.int(),
    runner_id: z.string(),
    resolved_inputs: ResolvedInputs.optional().describe(
      'Values the runner chose for this attempt, by node id and input name: a seed given as -1 becomes the seed that ran, e.g. {"3": {"seed": 8273645}}',
    ),
  })
  .meta({ id: "JobStartedEvent" });
export type JobStartedEvent = z.infer<typeof JobStartedEvent>;

/** `preview`: a live frame of the sampler (at most 1 per second, at most 128 KiB). */
export const JobPreviewEvent = z
  .object({
    type: z.literal("preview"),
    at: z.string(),
    attempt: z.int(),
    node_id: z.string().nullable().describe("The sampler node the frame comes from"),
    value: z.number().optional().describe("The step the frame shows, of `max`"),
    max: z.number().optional(),
    image: z
      .string()
      .regex(/^data:image\/(jpeg|png|webp);base64,/)
      .describe("The frame as a data: URL (ComfyUI's latent preview: a JPEG of up to 512 px, tens of KiB)"),
  })
  .meta({ id: "JobPreviewEvent" });
export type JobPreviewEvent = z.infer<typeof JobPreviewEvent>;
