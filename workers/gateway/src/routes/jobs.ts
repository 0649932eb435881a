/** Jobs API (scope `jobs`): submit, read, list, cancel, delete, live events, outputs. */

import { ErrorEnvelope, Job, JobCreate, JobListQuery } from "@comfy-edge/shared/contract";
import { fromBase64Url, toBase64Url } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import { Hono } from "hono";
import { stream } from "hono/streaming";
import { z } from "zod";
import { withQueueInfo } from "../capabilities/queue-view.ts";
import { chatApp } from "../images/enhance.ts";
import { resolveWorkflowLlmInputs } from "../jobs/llm-inputs.ts";
import { jobStub, publicJob } from "../jobs/public.ts";
import type { JobView } from "../jobs/state.ts";
import { parseJobCreate } from "../jobs/validate.ts";
import { readJsonValue, readQuery } from "../lib/body.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import { authedJsonErrors } from "../openapi/common.ts";
import { JobStreamEvent } from "../openapi/job-events-doc.ts";
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
import type { AppEnv } from "../types.ts";
import { outputRoutes } from "./job-outputs.ts";
import { preferWaitMs, respondJob, submitJob } from "./job-submit.ts";
import { deliveryRoutes } from "./webhook-deliveries.ts";

const MAX_SUBMIT_BYTES = 16 * 1024 * 1024;
const chat = chatApp();

export const jobRoutes = new Hono<AppEnv>();
jobRoutes.use("*", apiKeyAuth({ scope: "jobs" }));
jobRoutes.route("/:id/webhook-deliveries", deliveryRoutes);
jobRoutes.route("/:id/outputs", outputRoutes);

function notFound(id: string): ApiError {
  return new ApiError(404, "job_not_found", `No job '${id.slice(0, 80)}' for this API key's tenant.`);
}

jobRoutes.post("/", async (c) => {
  const body = parseJobCreate(await readJsonValue(c, { maxBytes: MAX_SUBMIT_BYTES }));
  // {"llm": {...}} input values are written by the LLM proxy first (jobs/llm-inputs.ts, docs/images.md).
  const llm = await resolveWorkflowLlmInputs(c, chat, body.workflow);
  if (llm.steps.length === 0) return submitJob(c, body);
  return submitJob(c, { ...body, workflow: llm.workflow }, { idempotencyBody: body, steps: llm.steps });
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
  const job = await withQueueInfo(c.env, await publicJob(view, c.env, new URL(c.req.url).origin));
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
const authErrors = authedJsonErrors("jobs");

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
        "Workflow refused on meaning (missing link target, cycle, no output node, unknown pool, unsafe URL, node class not allowed: node_not_allowed, docs/node-policy.md), or against what the pool's live runners can run: `unknown_node_class`, `model_not_available`, `invalid_input_value`, `missing_input` (param names the node or input; docs/capabilities.md)",
      ),
      ...authedJsonErrors("jobs", {
        429: "Rate limited (`rate_limited`), or `too_many_jobs`: the tenant already has limits.max_queued_jobs jobs queued (counted exactly; a job leaves the count when it starts or ends). Retry-After says when to try again.",
      }),
      503: E(
        "`pool_saturated`: the pool estimates a wait longer than `max_wait_s` (or has no live runner). Retry-After says when to try again.",
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
      ...authedJsonErrors("jobs", { 404: "No such job" }),
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
      409: E("Already finished"),
      ...authedJsonErrors("jobs", { 404: "No such job" }),
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
      409: E("Not finished"),
      ...authedJsonErrors("jobs", { 404: "No such job" }),
    },
  },
  {
    method: "get",
    path: "/v1/jobs/:id/events",
    summary: "Live job events (Server-Sent Events)",
    description:
      "A new subscriber first gets the job's events so far. Each stored event has `id:` (resume with Last-Event-ID) and `event:` llm|queued|started|progress|output|succeeded|failed|canceled; `llm` (schema JobLlmEvent, before `queued`) is a step run before queueing, one per `{llm}` input (model, usage, cache, output); `started` (schema JobStartedEvent) carries `resolved_inputs`, e.g. the seed each node got for -1. While a sampler runs, `event: preview` (schema JobPreviewEvent, no `id:`) carries a live frame as a data:image URL, at most 1 per second; previews are not stored or replayed, except the latest one for a subscriber arriving mid-run. The stream ends after the terminal event. A keep-alive comment every 15 s. docs/events.md.",
    tag: "Jobs",
    security: "apiKey",
    scope: "jobs",
    query: EVENTS_QUERY,
    headers: { "Last-Event-ID": LAST_EVENT_ID },
    responses: {
      200: {
        description: "text/event-stream: one JobStreamEvent per event",
        contentType: "text/event-stream",
        schema: JobStreamEvent,
        headers: SSE_HEADERS,
      },
      ...authedJsonErrors("jobs", { 404: "No such job" }),
    },
  },
];
