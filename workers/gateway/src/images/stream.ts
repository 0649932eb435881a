/**
 * `stream: true` on POST /v1/images/generations and /v1/images/edits (docs/images.md "Streaming"): OpenAI's
 * event stream over the request's jobs. Up to `partial_images` `<kind>.partial_image` events per job
 * (kind `image_generation` or `image_edit`), built from the sampler previews the runner forwards (the job
 * DO's nextPreview), then one `<kind>.completed` per image; a failure after the stream began is an `error`
 * event in OpenAI's shape.
 */

import { TERMINAL } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { jobObjectId } from "@comfy-edge/shared/job-id";
import { log } from "@comfy-edge/shared/log";
import type { Context } from "hono";
import type { AppEnv } from "../types.ts";
import type { ImagesResponse } from "./params.ts";
import { answerImages, IMAGES_WAIT_MS, type ImageJobs, type ImagesAnswer, type ImagesRun } from "./run.ts";

/** One long poll of the job object for its next preview. */
const PREVIEW_POLL_MS = 20_000;

const encoder = new TextEncoder();
const sse = (event: Record<string, unknown> & { type: string }) =>
  encoder.encode(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);

/** OpenAI's event-name prefix: generations stream `image_generation.*`, edits `image_edit.*`. */
export type StreamKind = "image_generation" | "image_edit";

export interface StreamOptions {
  kind: StreamKind;
  partialImages: number;
  /** Runs once the jobs succeeded, before the completed events (an edit saves its session turn here). */
  onAnswer?: (answer: ImagesAnswer) => Promise<void>;
  /** Extension fields added to every completed event (an edit's `edit_session`). */
  extra?: Record<string, unknown>;
  /** Response headers beside `x-job-id`. */
  headers?: Record<string, string>;
}

interface Common {
  size: string;
  quality: string;
  background: string;
}

/** The `<kind>.completed` events of a finished answer, one per image. */
export function completedEvents(
  body: ImagesResponse,
  kind: StreamKind = "image_generation",
): Array<Record<string, unknown> & { type: string }> {
  return body.data.map((d) => ({
    type: `${kind}.completed`,
    b64_json: d.b64_json,
    created_at: body.created,
    size: body.size ?? "auto",
    quality: body.quality ?? "auto",
    background: body.background ?? "auto",
    output_format: body.output_format,
    usage: body.usage,
  }));
}

/** A job's previews as partial images: at most `limit`, ending when the job does (or at `deadline`). */
async function partials(
  c: Context<AppEnv>,
  jobId: string,
  limit: number,
  deadline: number,
  common: Common,
  kind: StreamKind,
  emit: (e: Record<string, unknown> & { type: string }) => void,
): Promise<void> {
  const id = jobObjectId(c.env.JOBS, jobId);
  if (!id || limit <= 0) return;
  const stub = c.env.JOBS.get(id);
  const tenantId = c.get("auth").tenantId;
  let after = 0;
  for (let index = 0; index < limit && Date.now() < deadline; ) {
    const next = await stub.nextPreview(tenantId, after, Math.min(PREVIEW_POLL_MS, deadline - Date.now()));
    if (!next || TERMINAL.has(next.status)) return; // the final image is next
    if (!next.preview) continue;
    after = next.preview.n;
    const { image, at } = next.preview.preview;
    const [, format = "jpeg", b64 = ""] = /^data:image\/(\w+);base64,(.*)$/.exec(image) ?? [];
    emit({
      type: `${kind}.partial_image`,
      b64_json: b64,
      created_at: Math.floor(Date.parse(at) / 1000),
      ...common,
      output_format: format,
      partial_image_index: index++,
    });
  }
}

function errorEvent(err: unknown, jobId: string) {
  if (!(err instanceof ApiError)) log("error", { job_id: jobId }, "images stream failed", { error: String(err) });
  const e =
    err instanceof ApiError
      ? err
      : new ApiError(500, "internal_error", "Something went wrong on our side. Retry the request.");
  return { type: "error", error: { type: e.type, code: e.code, message: e.message, param: e.param, ...e.details } };
}

/** The event stream of submitted jobs (the response is returned at once; the jobs are followed inside). */
export function imagesStream(c: Context<AppEnv>, req: ImagesRun, created: ImageJobs, opts: StreamOptions): Response {
  const started = Date.now();
  const deadline = started + IMAGES_WAIT_MS;
  const common: Common = {
    size: req.size ?? "auto",
    quality: req.quality ?? "auto",
    background: req.background ?? "auto",
  };
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const emit = (e: Record<string, unknown> & { type: string }) => void writer.write(sse(e)).catch(() => {});
  const run = (async () => {
    try {
      await Promise.all(
        created.map((j) => partials(c, j.jobId, opts.partialImages, deadline, common, opts.kind, emit)),
      );
      const answer = await answerImages(c, req, created, Math.max(0, deadline - Date.now()));
      await opts.onAnswer?.(answer);
      for (const e of completedEvents(answer.body, opts.kind)) emit({ ...e, ...opts.extra });
    } catch (err) {
      emit(errorEvent(err, created[0]?.jobId ?? ""));
    } finally {
      await writer.close().catch(() => {});
    }
  })();
  c.executionCtx.waitUntil(run);
  return new Response(readable, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-job-id": created.map((j) => j.jobId).join(","),
      ...opts.headers,
    },
  });
}
