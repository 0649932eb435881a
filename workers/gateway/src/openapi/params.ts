/**
 * Request and response headers (and examples) that route docs share, stated once so generated clients
 * get one name and one schema for each.
 */

import { INLINE_MEDIA_TYPES } from "@comfy-edge/shared/download";
import { z } from "zod";
import type { HeaderDoc, ResponseDoc } from "./route-doc.ts";

export const IDEMPOTENCY_KEY: HeaderDoc = {
  description:
    "Makes the submit safe to retry (24 h per tenant): the same key with the same body answers with the same job " +
    "(`Idempotent-Replayed: true`); with another body, 409 `idempotency_conflict`. 1-255 printable ASCII characters.",
  schema: z.string().min(1).max(255),
  example: "order-42",
};

export const PREFER_WAIT: HeaderDoc = {
  description:
    "`wait=N` (N <= 60 seconds): hold the answer until the job finishes or N seconds pass. 200 with the finished " +
    "job, else 202 with the job as it is.",
  example: "wait=30",
};

export const PREFERENCE_APPLIED: HeaderDoc = { description: "`wait` when Prefer: wait was honoured", example: "wait" };

export const LAST_EVENT_ID: HeaderDoc = {
  description:
    "Resume after this event id (what the browser's EventSource sends on reconnect); `?after=` does the same",
  example: "3",
};

export const EVENTS_QUERY = z.object({
  after: z.string().optional().meta({ description: "Resume after this event id (as Last-Event-ID)" }),
});

/** Headers of a submit answer. */
export const SUBMIT_RESPONSE_HEADERS: Record<string, HeaderDoc> = {
  Location: { description: "The job's URL", required: true, example: "/v1/jobs/job_..." },
  "Preference-Applied": PREFERENCE_APPLIED,
  "Idempotent-Replayed": {
    description: "`true` when this answer is the job an earlier request with the same Idempotency-Key created",
    example: "true",
  },
  "X-Cache": {
    description:
      "Output cache (deterministic graphs): `HIT` answered with a succeeded job's outputs, `MISS` ran and will be reused, `BYPASS` not cacheable (a seed of -1, an external input) or `cache: false`",
    example: "HIT",
  },
};

/** A server-sent event stream (`text/event-stream`): `event:`/`id:`/`data:` lines. */
export const EVENT_STREAM = z.string().meta({ description: "Server-sent events" });

export const SSE_HEADERS: Record<string, HeaderDoc> = {
  "X-Accel-Buffering": { description: "`no`: tells proxies not to buffer the stream", example: "no" },
};

export const SUBMIT_EXAMPLE = {
  workflow: {
    "1": { class_type: "EmptyImage", inputs: { width: 512, height: 512, batch_size: 1, color: 0 } },
    "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
    "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "demo" } },
  },
  webhook: { url: "https://hooks.example.com/comfy" },
  metadata: { order: "42" },
};

/** The authenticated download: bytes of one of the inline media types, else octet-stream. */
export const OUTPUT_DOWNLOAD: ResponseDoc = {
  description: "The output bytes",
  contentType: "application/octet-stream",
  schema: z.string().meta({ format: "binary" }),
  alternatives: Object.fromEntries([...INLINE_MEDIA_TYPES].map((t) => [t, z.string().meta({ format: "binary" })])),
  headers: {
    "Content-Disposition": {
      description: "`inline` for the media types above, else `attachment`; `filename` (ASCII) and `filename*` (UTF-8)",
      required: true,
      example: `inline; filename="demo_00001_.png"; filename*=UTF-8''demo_00001_.png`,
    },
    "X-Content-Type-Options": { description: "Always `nosniff`", required: true, example: "nosniff" },
    "Content-Security-Policy": {
      description: "Always `default-src 'none'; sandbox`",
      required: true,
      example: "default-src 'none'; sandbox",
    },
  },
};

/** LLM cache controls (docs/llm.md). */
export const CACHE_REQUEST_HEADERS: Record<string, HeaderDoc> = {
  "Cache-Control": {
    description: "`no-cache`: skip the cache read (the answer is still stored); `no-store`: neither read nor write",
    example: "no-cache",
  },
  "x-cache-ttl": {
    description: "Lifetime of the cache entry this request writes, in seconds (60 to 2592000)",
    schema: z.int().min(60).max(2_592_000),
    example: "3600",
  },
};

export const CACHE_RESPONSE_HEADERS: Record<string, HeaderDoc> = {
  "x-cache": {
    description: "`HIT` (answered from the cache, no upstream call), `MISS` (stored now) or `BYPASS` (not cacheable)",
    schema: z.enum(["HIT", "MISS", "BYPASS"]),
    required: true,
    example: "HIT",
  },
  Age: { description: "On a HIT: seconds since the answer was stored", schema: z.int().min(0), example: "12" },
};

export const CHAT_EXAMPLE = {
  model: "llama3.1:8b",
  temperature: 0,
  messages: [{ role: "user", content: "A prompt for a foggy harbour at dawn" }],
};
