/**
 * One Images API request as template jobs (docs/images.md): the model's template and bindings, the
 * OpenAI parameters bound to its inputs, one job per run through the jobs submit core (a batch-size input
 * makes n one run), each waited for with the job DO's waitFor, and the answer in OpenAI's shape.
 */

import type { JobCreate, JobStep } from "@comfy-edge/shared/contract";
import { toBase64 } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import type { JobView, StoredOutput } from "@comfy-edge/shared/job-view";
import type { Context } from "hono";
import { publicJob } from "../jobs/public.ts";
import { createJob } from "../routes/job-submit.ts";
import { usedInputs } from "../routes/templates.ts";
import { applyInputs, checkRunInputs } from "../templates/schema.ts";
import { getVersion } from "../templates/store.ts";
import type { AppEnv } from "../types.ts";
import { bindValues, deriveBindings } from "./bindings.ts";
import { findImageModel } from "./model-store.ts";
import type { ImageGenerate, ImagesResponse } from "./params.ts";

/** How long a request waits for its jobs before answering 504 with their ids. */
export const IMAGES_WAIT_MS = 300_000;

export interface ImagesRun extends Omit<ImageGenerate, "prompt_enhance"> {
  /** data: or https: URLs, in order (edits). */
  images: string[];
  mask?: string;
  /** The text the image model gets (the prompt, or what an LLM wrote from it). */
  revised_prompt?: string;
  /** Steps run before (prompt_enhance), recorded on each job. */
  steps?: JobStep[];
}

export interface ImagesAnswer {
  body: ImagesResponse;
  jobIds: string[];
  outputs: Array<Pick<StoredOutput, "key" | "content_type">>;
}

export function modelNotFound(model: string): ApiError {
  return new ApiError(
    404,
    "model_not_found",
    `The model '${model.slice(0, 100)}' does not exist for this API key's tenant. Image models are templates created with images_model; GET /v1/models lists them.`,
    { param: "model" },
  );
}

async function submitRuns(c: Context<AppEnv>, req: ImagesRun) {
  const auth = c.get("auth");
  const model = await findImageModel(c.env.DB, auth.tenantId, req.model);
  const stored = model && (await getVersion(c.env.DB, auth.tenantId, model.name, null));
  if (!model || !stored) throw modelNotFound(req.model);
  const bindings = deriveBindings(stored.inputs, model.images_bindings, stored.workflow);
  const runs = bindings.n ? 1 : req.n;
  const prompt = req.revised_prompt ?? req.prompt;
  const imageNames = new Set([...bindings.image, ...(bindings.mask ? [bindings.mask] : [])].map((i) => i.name));
  const idemKey = c.req.header("idempotency-key");
  const created = [];
  for (let i = 0; i < runs; i++) {
    // n separate runs of one seed would be n equal images: each gets its own seed.
    const seed = req.seed !== undefined && req.seed !== -1 ? req.seed + i : runs > 1 && bindings.seed ? -1 : req.seed;
    const values = bindValues(bindings, { ...req, prompt, seed, batch: bindings.n ? req.n : undefined });
    // Images are checked here (uploads) or by the URL guard in the submit core, not as text inputs.
    const text = Object.fromEntries(Object.entries(values).filter(([k]) => !imageNames.has(k)));
    const given = {
      ...checkRunInputs(stored.inputs, text),
      ...Object.fromEntries(Object.entries(values).filter(([k]) => imageNames.has(k))),
    };
    const { used, seeds } = usedInputs(stored.inputs, given);
    for (const name of imageNames)
      if (name in used && String(used[name]).startsWith("data:")) used[name] = "(uploaded image)";
    const job: JobCreate = {
      workflow: applyInputs(stored.workflow, stored.inputs, given),
      ...(stored.pool ? { pool: stored.pool } : {}),
      metadata: { images_model: req.model, ...(req.user ? { user: req.user } : {}) },
      ...(req.output_format
        ? {
            output: {
              format: req.output_format,
              ...(req.output_compression !== undefined && req.output_format !== "png"
                ? { quality: Math.max(1, req.output_compression) }
                : {}),
            },
          }
        : {}),
    };
    created.push(
      await createJob(c, job, {
        idempotencyKey: idemKey ? `${idemKey.slice(0, 240)}#${i}` : null,
        idempotencyBody: { images: { ...req, images: req.images.length }, run: i },
        template: { name: stored.name, version: stored.version, inputs: used, seeds },
        ...(req.steps ? { steps: req.steps } : {}),
      }),
    );
  }
  return created;
}

async function imageData(c: Context<AppEnv>, view: JobView, req: ImagesRun, revised: string) {
  const images = view.outputs.filter((o) => o.content_type.startsWith("image/"));
  if (req.response_format === "b64_json") {
    return Promise.all(
      images.map(async (o) => {
        const object = await c.env.FILES.get(o.key);
        if (!object) throw new ApiError(410, "output_gone", `Job ${view.id}'s output ${o.filename} was removed.`);
        return { b64_json: toBase64(new Uint8Array(await object.arrayBuffer())), revised_prompt: revised };
      }),
    );
  }
  const pub = await publicJob(view, c.env, new URL(c.req.url).origin);
  return pub.outputs
    .filter((o) => o.content_type.startsWith("image/"))
    .map((o) => ({ url: o.url, revised_prompt: revised }));
}

/** Tokens of the steps that wrote the prompt (the image jobs themselves count no tokens). */
function usageOf(steps: JobStep[]) {
  const input = steps.reduce((n, s) => n + (s.usage?.prompt_tokens ?? 0), 0);
  const output = steps.reduce((n, s) => n + (s.usage?.completion_tokens ?? 0), 0);
  return {
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    input_tokens_details: { text_tokens: input, image_tokens: 0 },
  };
}

export type ImageJobs = Awaited<ReturnType<typeof submitRuns>>;

/** Submits the request's job(s); their ids go in `x-job-id`. */
export async function submitImages(c: Context<AppEnv>, req: ImagesRun): Promise<ImageJobs> {
  const created = await submitRuns(c, req);
  c.header("x-job-id", created.map((j) => j.jobId).join(","));
  return created;
}

/** Runs the request and waits; the jobs' ids are in `x-job-id` whatever the outcome. */
export async function runImages(c: Context<AppEnv>, req: ImagesRun, waitMs = IMAGES_WAIT_MS): Promise<ImagesAnswer> {
  return answerImages(c, req, await submitImages(c, req), waitMs);
}

/** Waits for submitted jobs and answers in OpenAI's shape (errors as ApiError). */
export async function answerImages(
  c: Context<AppEnv>,
  req: ImagesRun,
  created: ImageJobs,
  waitMs: number,
): Promise<ImagesAnswer> {
  const tenantId = c.get("auth").tenantId;
  const jobIds = created.map((j) => j.jobId);
  const views = await Promise.all(created.map(async (j) => (await j.stub.waitFor(tenantId, waitMs)) ?? j.result.job));
  const open = views.filter((v) => !["succeeded", "failed", "canceled"].includes(v.status));
  if (open.length > 0) {
    throw new ApiError(
      504,
      "image_generation_timeout",
      `The image job(s) ${open.map((v) => v.id).join(", ")} did not finish within ${Math.round(waitMs / 1000)} s; they keep running: follow GET /v1/jobs/<id>.`,
      { details: { job_ids: jobIds } },
    );
  }
  const bad = views.find((v) => v.status !== "succeeded");
  if (bad) {
    throw new ApiError(
      bad.status === "canceled" ? 409 : 502,
      bad.status === "canceled" ? "job_canceled" : "image_generation_failed",
      bad.status === "canceled"
        ? `The image job ${bad.id} was canceled.`
        : `The image job ${bad.id} failed: ${bad.error?.message ?? "unknown error"} (GET /v1/jobs/${bad.id}).`,
      { details: { job_ids: jobIds } },
    );
  }
  const revised = req.revised_prompt ?? req.prompt;
  const data = (await Promise.all(views.map((v) => imageData(c, v, req, revised)))).flat();
  const outputs = views.flatMap((v) => v.outputs.filter((o) => o.content_type.startsWith("image/")));
  return {
    jobIds,
    outputs: outputs.map((o) => ({ key: o.key, content_type: o.content_type })),
    body: {
      created: Math.floor(Date.now() / 1000),
      data,
      ...(req.background ? { background: req.background } : {}),
      output_format: req.output_format ?? outputs[0]?.content_type.replace("image/", "") ?? "png",
      ...(req.size ? { size: req.size } : {}),
      ...(req.quality ? { quality: req.quality } : {}),
      usage: usageOf(req.steps ?? []),
    },
  };
}
