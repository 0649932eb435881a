/**
 * The submit core shared by POST /v1/jobs and POST /v1/templates/:name/runs: the checks a workflow gets
 * (meaning, pool access, node policy, webhook and image URLs, stored-size limit), inputs stored or
 * referenced, the job object created (Idempotency-Key, queued-job limit), then `Prefer: wait` and the
 * answer (202 unfinished / 200 finished, Location, Idempotent-Replayed).
 */

import type { Job, JobCreate, JobInputRef, Workflow } from "@comfy-edge/shared/contract";
import { sha256Hex } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import { idempotentJobId, newJobId } from "@comfy-edge/shared/job-id";
import { assertSafeUrl, policyFor } from "@comfy-edge/shared/url-guard";
import type { Context } from "hono";
import type { z } from "zod";
import { admit } from "../capabilities/submit-check.ts";
import { gatewayConfig } from "../config.ts";
import { type JobApi, jobStubById, publicJob } from "../jobs/public.ts";
import { type CreateJobInput, type CreateResult, DEFAULT_QUEUE_TIMEOUT_S } from "../jobs/state.ts";
import { inputKey, refusal } from "../jobs/submit.ts";
import { checkUploadedFile } from "../jobs/uploaded-file.ts";
import { fileInputs, validateWorkflow } from "../jobs/validate.ts";
import { jobPlacer } from "../pools/groups/place.ts";
import { cacheHash, isDeterministic } from "../templates/output-cache.ts";
import { cachedOutputs } from "../templates/output-cache-store.ts";
import type { AppEnv } from "../types.ts";

const MAX_STORED_WORKFLOW_BYTES = 1024 * 1024;
const MAX_WAIT_S = 60;
const place = jobPlacer();

/** `Prefer: wait=N` (N <= 60) -> milliseconds, or 0. */
export function preferWaitMs(header: string | undefined): number {
  if (!header) return 0;
  const m = /(?:^|[,;\s])wait=(\d+)/i.exec(header);
  if (!m) return 0;
  return Math.min(Number(m[1]), MAX_WAIT_S) * 1000;
}

export function respondJob(
  c: Context<AppEnv>,
  job: z.infer<typeof Job>,
  waited: boolean,
  extra: Record<string, string> = {},
) {
  const finished = job.status === "succeeded" || job.status === "failed" || job.status === "canceled";
  if (waited) c.header("preference-applied", "wait");
  for (const [k, v] of Object.entries(extra)) c.header(k, v);
  return c.json(job, finished ? 200 : 202);
}

export interface SubmitOptions {
  /** What the Idempotency-Key's body hash covers (default: the job body). */
  idempotencyBody?: unknown;
  /** A template run: recorded on the job. */
  template?: CreateJobInput["template"];
  /** Steps run before the job (the Images API's prompt_enhance): recorded on the job. */
  steps?: CreateJobInput["steps"];
  /** Used instead of the Idempotency-Key header (null: none; the Images API runs n jobs per request). */
  idempotencyKey?: string | null;
}

export interface CreatedJob {
  jobId: string;
  stub: JobApi;
  result: Extract<CreateResult, { status: "created" | "existing" }>;
  cache: "HIT" | "MISS" | "BYPASS";
}

export async function submitJob(c: Context<AppEnv>, body: JobCreate, options: SubmitOptions = {}) {
  const { jobId, stub, result, cache } = await createJob(c, body, options);
  const auth = c.get("auth");
  c.header("x-cache", cache);
  const wait = preferWaitMs(c.req.header("prefer"));
  const view = wait > 0 ? ((await stub.waitFor(auth.tenantId, wait)) ?? result.job) : result.job;
  c.header("location", `/v1/jobs/${jobId}`);
  return respondJob(
    c,
    await publicJob(view, c.env, new URL(c.req.url).origin),
    wait > 0,
    result.status === "existing" ? { "idempotent-replayed": "true" } : {},
  );
}

/** The checks, the inputs stored and the job created (or found by its Idempotency-Key); no answer yet. */
export async function createJob(c: Context<AppEnv>, body: JobCreate, options: SubmitOptions = {}): Promise<CreatedJob> {
  const auth = c.get("auth");
  validateWorkflow(body.workflow);
  // The pool (or a pool group's member) and the checks against it: access, node policy, URL models, what its
  // live runners can run (pools/groups/place.ts, docs/capabilities.md); then the honest-wait admission.
  const { pool, needs, group } = await place(c.env, {
    target: body.pool ?? auth.tenant.default_pool ?? "local",
    explicit: body.pool !== undefined,
    tenant: { ...auth.tenant, id: auth.tenantId },
    workflow: body.workflow,
    cf: c.req.raw.cf,
  });
  const poolName = pool.name;
  if (body.max_wait_s !== undefined) await admit(c.env, poolName, body.max_wait_s);

  const urlEnv = c.env;
  const webhook = body.webhook
    ? {
        url: body.webhook.url,
        events: body.webhook.events ?? ["job.started", "job.succeeded", "job.failed", "job.canceled"],
      }
    : null;
  if (webhook) assertSafeUrl(webhook.url, policyFor("webhook", urlEnv, auth.tenant), "webhook.url");

  const idemKey =
    options.idempotencyKey === undefined ? c.req.header("idempotency-key") : (options.idempotencyKey ?? undefined);
  if (idemKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(idemKey)) {
    throw new ApiError(400, "invalid_request", "Idempotency-Key must be 1-255 printable ASCII characters.", {
      param: "Idempotency-Key",
    });
  }
  // shared/job-id.ts: a short id (derived from the key when there is one) names the job's object.
  const jobId = idemKey ? await idempotentJobId(auth.tenantId, idemKey) : newJobId();
  const doId = c.env.JOBS.idFromName(jobId);

  // Inputs: URLs pass the static guard now and are fetched at the edge by the consumer; data: URLs are
  // stored now; file:<id> must exist. The stored workflow names each input by node only.
  const imagePolicy = policyFor("image", urlEnv, auth.tenant);
  const inputs: JobInputRef[] = [];
  const files = fileInputs(body.workflow);
  // Copied only when an input is rewritten below (a copy of a large graph costs more than the rest here).
  const workflow: Workflow = files.length > 0 ? structuredClone(body.workflow) : body.workflow;
  const puts: Array<() => Promise<unknown>> = [];
  const written: string[] = [];
  for (const input of files) {
    const param = `workflow.${input.node_id}.inputs.${input.input}`;
    const key = `jobs/${jobId}/inputs/${input.node_id}`;
    if (input.kind === "url") {
      const checked = assertSafeUrl(input.url, imagePolicy, param);
      inputs.push({
        kind: "url",
        node_id: input.node_id,
        url: checked.kind === "data" ? input.url : checked.url.toString(),
        key,
      });
    } else if (input.kind === "data") {
      const checked = assertSafeUrl(input.url, imagePolicy, param);
      if (checked.kind !== "data") throw new ApiError(422, "unsafe_url", "Expected a data: URL.", { param });
      const stored = await inputKey(jobId, input.node_id, checked.bytes);
      puts.push(() => c.env.FILES.put(stored, checked.bytes, { httpMetadata: { contentType: checked.mimeType } }));
      written.push(stored);
      inputs.push({ kind: "r2", node_id: input.node_id, key: stored });
    } else {
      const fileKey = `uploads/${auth.tenantId}/${input.file_id}`;
      const ref = { nodeId: input.node_id, fileId: input.file_id, key: fileKey, param };
      await checkUploadedFile(c.env.FILES, ref, gatewayConfig(c.env).maxInputBytes);
      inputs.push({ kind: "r2", node_id: input.node_id, key: fileKey });
    }
    workflow[input.node_id]!.inputs[input.input] = `input:${input.node_id}`;
  }
  if (JSON.stringify(workflow).length > MAX_STORED_WORKFLOW_BYTES) {
    throw new ApiError(
      413,
      "workflow_too_large",
      "The workflow (without its images) is larger than 1 MiB. Pass images as URLs or files, not inside other inputs.",
      { param: "workflow" },
    );
  }

  const stub = jobStubById(c.env.JOBS, doId);
  const create: CreateJobInput = {
    id: jobId,
    tenant_id: auth.tenantId,
    key_id: auth.keyId,
    pool: poolName,
    workflow,
    output: body.output ?? null,
    timeout_s: body.timeout_s ?? null,
    metadata: body.metadata ?? {},
    inputs,
    max_running: auth.tenant.max_running_jobs,
    queue_timeout_s: auth.tenant.queue_timeout_s ?? DEFAULT_QUEUE_TIMEOUT_S,
    image_allowlist: auth.tenant.image_url_allowlist,
    webhook,
    idempotency: idemKey
      ? { key: idemKey, body_hash: await sha256Hex(JSON.stringify(options.idempotencyBody ?? body)) }
      : null,
    origin: new URL(c.req.url).origin,
    max_run_s: auth.tenant.max_run_s ?? null,
    // Counted atomically by the tenant's queued-job counter (jobs/queue-slots.ts).
    max_queued: auth.tenant.max_queued_jobs,
    needs,
    ...(group ? { group } : {}),
    ...(options.template ? { template: options.template } : {}),
    ...(options.steps?.length ? { steps: options.steps } : {}),
  };
  // Output cache (templates/output-cache.ts): a deterministic graph a succeeded job of this tenant ran
  // within the TTL is answered with that job's outputs, copied; no GPU time.
  const hash =
    body.cache !== false && isDeterministic(body.workflow)
      ? await cacheHash(body.workflow, poolName, body.output)
      : null;
  const hit = hash ? await cachedOutputs(c.env, auth.tenantId, hash, jobId) : null;
  let result: CreateResult;
  if (hit) {
    result = await stub.createCached(create, hit.from, hit.outputs);
    if (result.status !== "created") await c.env.FILES.delete(hit.written);
    if (result.status === "conflict" || result.status === "queue_full") throw await refusal(result, [], c.env.FILES);
  } else {
    // Stored before the job exists (its dispatch reads them); a refused create removes them again.
    // The job points the output cache at itself once it succeeds (JobDO.runnerEvent).
    await Promise.all(puts.map((put) => put()));
    result = await stub.create(hash ? { ...create, cache_hash: hash } : create);
    if (result.status === "conflict" || result.status === "queue_full")
      throw await refusal(result, written, c.env.FILES);
  }
  return { jobId, stub, result, cache: hit ? "HIT" : hash ? "MISS" : "BYPASS" };
}
