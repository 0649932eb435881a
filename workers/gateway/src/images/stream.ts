/**
 * `stream: true` on POST /v1/images/generations (docs/images.md "Streaming"): OpenAI's event stream over the
 * request's jobs. Up to `partial_images` `image_generation.partial_image` events per job, built from the
 * sampler previews the runner forwards (the job DO's nextPreview), then one `image_generation.completed`
 * per image; a failure after the stream began is an `error` event in OpenAI's shape.
 */
import type { Context } from "hono";
import { TERMINAL } from "../../../shared/contract/index.ts";
import { ApiError } from "../../../shared/errors.ts";
import { jobObjectId } from "../../../shared/job-id.ts";
import { log } from "../../../shared/log.ts";
import type { AppEnv } from "../types.ts";
import type { ImagesResponse } from "./params.ts";
import { answerImages, IMAGES_WAIT_MS, type ImageJobs, type ImagesRun } from "./run.ts";

/** One long poll of the job object for its next preview. */
const PREVIEW_POLL_MS = 20_000;

const encoder = new TextEncoder();
const sse = (event: Record<string, unknown> & { type: string }) =>
  encoder.encode(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);

interface Common {
  size: string;
  quality: string;
  background: string;
}

/** The `image_generation.completed` events of a finished answer, one per image. */
export function completedEvents(body: ImagesResponse): Array<Record<string, unknown> & { type: string }> {
  return body.data.map((d) => ({
    type: "image_generation.completed",
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
      type: "image_generation.partial_image",
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
export function imagesStream(c: Context<AppEnv>, req: ImagesRun, created: ImageJobs, partialImages: number): Response {
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
      await Promise.all(created.map((j) => partials(c, j.jobId, partialImages, deadline, common, emit)));
      const answer = await answerImages(c, req, created, Math.max(0, deadline - Date.now()));
      for (const e of completedEvents(answer.body)) emit(e);
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
    },
  });
}
