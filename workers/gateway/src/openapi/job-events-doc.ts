/**
 * The schema of one event of GET /v1/jobs/:id/events as OpenAPI tools read a `text/event-stream` response
 * (one item per event: its `event:` name, `id:` and the JSON of its `data:` line). The `llm`, `started` and
 * `preview` data are the contract's schemas (components JobLlmEvent, JobStartedEvent, JobPreviewEvent).
 */

import { JobLlmEvent, JobPreviewEvent, JobStartedEvent } from "@comfy-edge/shared/contract";
import { z } from "zod";

const id = z.string().describe("The event's sequence (resume with Last-Event-ID)");

/** The other stored events (docs/events.md lists their fields). */
const StoredEvent = z.looseObject({
  type: z.enum(["queued", "progress", "output", "succeeded", "failed", "canceled"]),
  sequence: z.int(),
  at: z.string(),
});

export const JobStreamEvent = z
  .union([
    z.object({ event: z.literal("llm"), id, data: JobLlmEvent }),
    z.object({ event: z.literal("started"), id, data: JobStartedEvent }),
    z.object({
      event: z.literal("preview"),
      data: JobPreviewEvent.describe("Ephemeral: no id, never stored or replayed (the latest for a late subscriber)"),
    }),
    z.object({
      event: z.enum(["queued", "progress", "output", "succeeded", "failed", "canceled"]),
      id,
      data: StoredEvent,
    }),
  ])
  .describe("One server-sent event: the `event:` name, `id:` (stored events only) and the JSON of `data:`")
  .meta({ id: "JobStreamEvent" });
