/** Jobs API (scope `jobs`): submit, read, list, cancel, delete, live events, outputs. */
import { type Context, Hono } from "hono";
import { stream } from "hono/streaming";
import { z } from "zod";
import {
  ErrorEnvelope,
  Job,
  JobCreate,
  type JobInputRef,
  JobListQuery,
  type Workflow,
} from "../../../shared/contract/index.ts";
import { fromBase64Url, sha256Hex, toBase64Url } from "../../../shared/crypto.ts";
import { ApiError } from "../../../shared/errors.ts";
import { assertSafeUrl, policyFor } from "../../../shared/url-guard/index.ts";
import { enforceNodePolicy, nodePolicyReader, policyLayers } from "../jobs/node-policy.ts";
import { jobStub, jobStubById, publicJob } from "../jobs/public.ts";
import { DEFAULT_QUEUE_TIMEOUT_S, type JobView } from "../jobs/state.ts";
import { inputKey, refusal } from "../jobs/submit.ts";
import { checkUploadedFile } from "../jobs/uploaded-file.ts";
import { fileInputs, parseJobCreate, validateWorkflow } from "../jobs/validate.ts";
import { readJsonValue, readQuery } from "../lib/body.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import {
  EVENTS_QUERY,
  IDEMPOTENCY_KEY,
  LAST_EVENT_ID,
  PREFER_WAIT,
  PREFERENCE_APPLIED,
  SSE_HEADERS,
  SUBMIT_EXAMPLE,
  SUBMIT_RESPONSE_HEADERS,
} from "../openapi/params.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { requirePoolAccess } from "../pools/access.ts";
import type { AppEnv } from "../types.ts";
import { outputRoutes } from "./job-outputs.ts";
import { deliveryRoutes } from "./webhook-deliveries.ts";

const MAX_SUBMIT_BYTES = 16 * 1024 * 1024;
const MAX_STORED_WORKFLOW_BYTES = 1024 * 1024;
const MAX_WAIT_S = 60;

export const jobRoutes = new Hono<AppEnv>();
jobRoutes.use("*", apiKeyAuth({ scope: "jobs" }));
jobRoutes.route("/:id/webhook-deliveries", deliveryRoutes);
jobRoutes.route("/:id/outputs", outputRoutes);
const readNodePolicy = nodePolicyReader();

function notFound(id: string): ApiError {
  return new ApiError(404, "job_not_found", `No job '${id.slice(0, 80)}' for this API key's tenant.`);
}

/** `Prefer: wait=N` (N <= 60) -> milliseconds, or 0. */
function preferWaitMs(header: string | undefined): number {
  if (!header) return 0;
  const m = /(?:^|[,;\s])wait=(\d+)/i.exec(header);
  if (!m) return 0;
  return Math.min(Number(m[1]), MAX_WAIT_S) * 1000;
}

function respondJob(c: Context<AppEnv>, job: z.infer<typeof Job>, waited: boolean, extra: Record<string, string> = {}) {
  const finished = job.status === "succeeded" || job.status === "failed" || job.status === "canceled";
  if (waited) c.header("preference-applied", "wait");
  for (const [k, v] of Object.entries(extra)) c.header(k, v);
  return c.json(job, finished ? 200 : 202);
}

jobRoutes.post("/", async (c) => {
  const auth = c.get("auth");
  const body = parseJobCreate(await readJsonValue(c, { maxBytes: MAX_SUBMIT_BYTES }));
  validateWorkflow(body.workflow);
  const poolName = body.pool ?? auth.tenant.default_pool ?? "local";
  const pool = await requirePoolAccess(c.env, poolName, auth.tenantId, body.pool ? "pool" : null);
  enforceNodePolicy(body.workflow, policyLayers(readNodePolicy(c.env), pool.node_policy, auth.tenant.node_policy));

  const urlEnv = c.env as unknown as Record<string, string | undefined>;
  const webhook = body.webhook
    ? {
        url: body.webhook.url,
        events: body.webhook.events ?? ["job.started", "job.succeeded", "job.failed", "job.canceled"],
      }
    : null;
  if (webhook) assertSafeUrl(webhook.url, policyFor("webhook", urlEnv, auth.tenant), "webhook.url");

  const idemKey = c.req.header("idempotency-key");
  if (idemKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(idemKey)) {
    throw new ApiError(400, "invalid_request", "Idempotency-Key must be 1-255 printable ASCII characters.", {
      param: "Idempotency-Key",
    });
  }
  const doId = idemKey ? c.env.JOBS.idFromName(`idem:${auth.tenantId}:${idemKey}`) : c.env.JOBS.newUniqueId();
  const jobId = `job_${doId.toString()}`;

  // Inputs: URLs pass the static guard now and are fetched at the edge by the consumer; data: URLs are
  // stored now; file:<id> must exist. The stored workflow names each input by node only.
  const imagePolicy = policyFor("image", urlEnv, auth.tenant);
  const inputs: JobInputRef[] = [];
  const workflow: Workflow = structuredClone(body.workflow);
  const puts: Array<() => Promise<unknown>> = [];
  const written: string[] = [];
  for (const input of fileInputs(body.workflow)) {
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
      await checkUploadedFile(c.env.FILES, ref, Number(c.env.MAX_INPUT_BYTES));
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

  // Stored before the job exists (its dispatch reads them); a refused create removes them again.
  await Promise.all(puts.map((put) => put()));

  const stub = jobStubById(c.env.JOBS, doId);
  const result = await stub.create({
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
    idempotency: idemKey ? { key: idemKey, body_hash: await sha256Hex(JSON.stringify(body)) } : null,
    origin: new URL(c.req.url).origin,
    max_run_s: auth.tenant.max_run_s ?? null,
    // Counted atomically by the tenant's queued-job counter (jobs/queue-slots.ts).
    max_queued: auth.tenant.max_queued_jobs,
  });
  if (result.status === "conflict" || result.status === "queue_full") throw await refusal(result, written, c.env.FILES);
  const wait = preferWaitMs(c.req.header("prefer"));
  const view = wait > 0 ? ((await stub.waitFor(auth.tenantId, wait)) ?? result.job) : result.job;
  c.header("location", `/v1/jobs/${jobId}`);
  return respondJob(
    c,
    await publicJob(view, c.env, new URL(c.req.url).origin),
    wait > 0,
    result.status === "existing" ? { "idempotent-replayed": "true" } : {},
  );
});

jobRoutes.get("/", async (c) => {
  const auth = c.get("auth");
  const q = readQuery(c, JobListQuery);
  let cursor: { t: number; id: string } | null = null;
  if (q.cursor) {
    try {
      const [t, id] = new TextDecoder().decode(fromBase64Url(q.cursor)).split(":");
      if (!t || !id || !Number.isFinite(Number(t))) throw new Error("bad");
      cursor = { t: Number(t), id };
    } catch {
      throw new ApiError(400, "invalid_request", "cursor is not a value from next_cursor.", { param: "cursor" });
    }
  }
  const where = ["tenant_id = ?"];
  const args: unknown[] = [auth.tenantId];
  if (q.status) {
    // The index stores "queued" for every unfinished job; running ones are told apart below.
    where.push("status = ?");
    args.push(q.status === "running" ? "queued" : q.status);
  }
  if (cursor) {
    where.push("(created_at < ? OR (created_at = ? AND id < ?))");
    args.push(cursor.t, cursor.t, cursor.id);
  }
  const { results } = await c.env.DB.prepare(
    `SELECT id, created_at FROM jobs_index WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT ?`,
  )
    .bind(...args, q.limit + 1)
    .all<{ id: string; created_at: number }>();
  const page = results.slice(0, q.limit);
  const views = await Promise.all(page.map((r) => jobStub(c.env, r.id)?.get(auth.tenantId) ?? null));
  const origin = new URL(c.req.url).origin;
  let data = await Promise.all(views.filter((v): v is JobView => v !== null).map((v) => publicJob(v, c.env, origin)));
  if (q.status === "running" || q.status === "queued") data = data.filter((j) => j.status === q.status);
  const last = page[page.length - 1];
  const next =
    results.length > q.limit && last ? toBase64Url(new TextEncoder().encode(`${last.created_at}:${last.id}`)) : null;
  return c.json({ data, next_cursor: next });
});

jobRoutes.get("/:id", async (c) => {
  const auth = c.get("auth");
  const id = c.req.param("id");
  const stub = jobStub(c.env, id);
  const wait = preferWaitMs(c.req.header("prefer"));
  const view = stub ? await (wait > 0 ? stub.waitFor(auth.tenantId, wait) : stub.get(auth.tenantId)) : null;
  if (!view) throw notFound(id);
  const job = await publicJob(view, c.env, new URL(c.req.url).origin);
  if (wait > 0) return respondJob(c, job, true);
  return c.json(job);
});

jobRoutes.post("/:id/cancel", async (c) => {
  const auth = c.get("auth");
  const id = c.req.param("id");
  const result = await jobStub(c.env, id)?.cancel(auth.tenantId);
  if (!result || result.status === "not_found" || !result.job) throw notFound(id);
  if (result.status === "finished") {
    throw new ApiError(
      409,
      "job_finished",
      `The job is already ${result.job.status}; only queued or running jobs can be canceled.`,
      { details: { status: result.job.status } },
    );
  }
  return c.json(await publicJob(result.job, c.env, new URL(c.req.url).origin), 202);
});

jobRoutes.delete("/:id", async (c) => {
  const auth = c.get("auth");
  const id = c.req.param("id");
  const result = await jobStub(c.env, id)?.remove(auth.tenantId);
  if (!result || result === "not_found") throw notFound(id);
  if (result === "not_finished")
    throw new ApiError(409, "job_not_finished", "Only finished jobs can be deleted; cancel it first.");
  return c.json({ id, deleted: true });
});

jobRoutes.get("/:id/events", async (c) => {
  const auth = c.get("auth");
  const id = c.req.param("id");
  const stub = jobStub(c.env, id);
  if (!stub) throw notFound(id);
  const lastEventId = c.req.header("last-event-id") ?? c.req.query("after") ?? "0";
  const after = /^\d{1,9}$/.test(lastEventId) ? lastEventId : "0";
  const res = await stub.fetch(
    new Request(`https://job.internal/events?tenant=${encodeURIComponent(auth.tenantId)}&after=${after}`),
  );
  if (res.status === 404) throw notFound(id);
  c.header("content-type", "text/event-stream; charset=utf-8");
  c.header("cache-control", "no-cache, no-transform");
  c.header("x-accel-buffering", "no");
  return stream(c, async (s) => {
    if (res.body) await s.pipe(res.body);
  });
});

const E = (description: string) => ({ description, schema: ErrorEnvelope });
const authErrors = {
  401: E("Missing, invalid or revoked API key"),
  403: E("Key lacks the jobs scope"),
  429: E("Rate limited"),
};

export const jobDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/v1/jobs",
    summary: "Submit a ComfyUI workflow",
    description:
      "`workflow` is ComfyUI's API format. LoadImage `image` inputs may be https:// URLs (fetched at the edge under the URL guard), data:image/... URLs (<= 10 MB) or file:<id> from POST /v1/files. Headers: `Idempotency-Key` (24 h per tenant), `Prefer: wait=N` (N <= 60). 202 while unfinished, 200 when finished within the wait.",
    tag: "Jobs",
    security: "apiKey",
    scope: "jobs",
    body: JobCreate,
    bodyExample: SUBMIT_EXAMPLE,
    headers: { "Idempotency-Key": IDEMPOTENCY_KEY, Prefer: PREFER_WAIT },
    responses: {
      200: { description: "Finished within Prefer: wait", schema: Job, headers: SUBMIT_RESPONSE_HEADERS },
      202: { description: "Queued (or running)", schema: Job, headers: SUBMIT_RESPONSE_HEADERS },
      400: E(
        "Malformed request or workflow shape (param names the node); `ui_format_workflow` for a workflow saved in ComfyUI's UI format instead of Export (API)",
      ),
      409: E("Idempotency-Key reused with another body"),
      413: E("Body or workflow too large"),
      422: E(
        "Workflow refused on meaning (missing link target, cycle, no output node, unknown pool, unsafe URL, node class not allowed: node_not_allowed, docs/node-policy.md)",
      ),
      ...authErrors,
      429: E(
        "Rate limited (`rate_limited`), or `too_many_jobs`: the tenant already has limits.max_queued_jobs jobs queued (counted exactly; a job leaves the count when it starts or ends). Retry-After says when to try again.",
      ),
    },
  },
  {
    method: "get",
    path: "/v1/jobs",
    summary: "List jobs",
    tag: "Jobs",
    security: "apiKey",
    scope: "jobs",
    query: JobListQuery,
    responses: {
      200: {
        description: "Newest first",
        schema: z.object({ data: z.array(Job), next_cursor: z.string().nullable() }),
      },
      400: E("Bad query"),
      ...authErrors,
    },
  },
  {
    method: "get",
    path: "/v1/jobs/:id",
    summary: "Get a job (supports Prefer: wait=N)",
    tag: "Jobs",
    security: "apiKey",
    scope: "jobs",
    headers: { Prefer: PREFER_WAIT },
    responses: {
      200: {
        description: "The job (finished, when Prefer: wait was sent)",
        schema: Job,
        headers: { "Preference-Applied": PREFERENCE_APPLIED },
      },
      202: {
        description: "With Prefer: wait, the job still unfinished when the wait ended",
        schema: Job,
        headers: { "Preference-Applied": PREFERENCE_APPLIED },
      },
      404: E("No such job"),
      ...authErrors,
    },
  },
  {
    method: "post",
    path: "/v1/jobs/:id/cancel",
    summary: "Cancel a job",
    description:
      "A queued job is canceled at once; a running one shows `cancel_requested: true`, its runner hears of it at once (cancel-wait long poll) and interrupts ComfyUI, and the job ends `canceled`.",
    tag: "Jobs",
    security: "apiKey",
    scope: "jobs",
    responses: {
      202: { description: "Cancel accepted", schema: Job },
      404: E("No such job"),
      409: E("Already finished"),
      ...authErrors,
    },
  },
  {
    method: "delete",
    path: "/v1/jobs/:id",
    summary: "Delete a finished job and its inputs and outputs",
    tag: "Jobs",
    security: "apiKey",
    scope: "jobs",
    responses: {
      200: { description: "Deleted", schema: z.object({ id: z.string(), deleted: z.literal(true) }) },
      404: E("No such job"),
      409: E("Not finished"),
      ...authErrors,
    },
  },
  {
    method: "get",
    path: "/v1/jobs/:id/events",
    summary: "Live job events (Server-Sent Events)",
    description:
      "A new subscriber first gets the job's events so far. Each event has `id:` (resume with Last-Event-ID) and `event:` queued|started|progress|output|succeeded|failed|canceled; the stream ends after the terminal event. A keep-alive comment every 15 s.",
    tag: "Jobs",
    security: "apiKey",
    scope: "jobs",
    query: EVENTS_QUERY,
    headers: { "Last-Event-ID": LAST_EVENT_ID },
    responses: {
      200: {
        description: "text/event-stream",
        contentType: "text/event-stream",
        schema: z.string(),
        headers: SSE_HEADERS,
      },
      404: E("No such job"),
      ...authErrors,
    },
  },
];
