/** Webhook delivery log and redelivery for one job (mounted under /v1/jobs/:id, which authenticates). */
import { Hono } from "hono";
import { z } from "zod";
import { ErrorEnvelope, RedeliverRequest, WebhookDelivery } from "../../../shared/contract/index.ts";
import { ApiError } from "../../../shared/errors.ts";
import { jobStub } from "../jobs/public.ts";
import { readJson } from "../lib/body.ts";
import { iso } from "../lib/time.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";

interface Row {
  id: string;
  event: string;
  sequence: number;
  url: string;
  status: string;
  attempts: number;
  status_code: number | null;
  latency_ms: number | null;
  next_retry_at: number | null;
  last_error: string | null;
  payload: string;
  created_at: number;
  updated_at: number;
}

export const deliveryRoutes = new Hono<AppEnv>();

async function ownJob(c: {
  env: Env;
  get(k: "auth"): AppEnv["Variables"]["auth"];
  req: { param(k: string): string | undefined };
}): Promise<string> {
  const id = c.req.param("id") ?? "";
  const view = await jobStub(c.env, id)?.get(c.get("auth").tenantId);
  if (!view) throw new ApiError(404, "job_not_found", `No job '${id.slice(0, 80)}' for this API key's tenant.`);
  return id;
}

deliveryRoutes.get("/", async (c) => {
  const jobId = await ownJob(c);
  const { results } = await c.env.DB.prepare("SELECT * FROM webhook_deliveries WHERE job_id = ? ORDER BY sequence")
    .bind(jobId)
    .all<Row>();
  return c.json({
    data: results.map((r) => ({
      id: r.id,
      event: r.event,
      sequence: r.sequence,
      url: r.url,
      status: r.status,
      attempts: r.attempts,
      status_code: r.status_code,
      latency_ms: r.latency_ms,
      next_retry_at: iso(r.next_retry_at),
      last_error: r.last_error,
      created_at: iso(r.created_at),
      updated_at: iso(r.updated_at),
    })),
  });
});

deliveryRoutes.post("/redeliver", async (c) => {
  const jobId = await ownJob(c);
  const hasBody = (c.req.header("content-length") ?? "0") !== "0" || c.req.header("content-type") !== undefined;
  const body = hasBody ? await readJson(c, RedeliverRequest, { maxBytes: 64 * 1024 }) : {};
  const { results } = await c.env.DB.prepare("SELECT * FROM webhook_deliveries WHERE job_id = ? ORDER BY sequence")
    .bind(jobId)
    .all<Row>();
  const wanted = body.event_ids ? results.filter((r) => body.event_ids!.includes(r.id)) : results;
  if (body.event_ids && wanted.length !== body.event_ids.length) {
    const missing = body.event_ids.find((id) => !results.some((r) => r.id === id));
    throw new ApiError(422, "unknown_event", `No delivery '${missing}' for this job.`, { param: "event_ids" });
  }
  if (wanted.length > 0) {
    await c.env.WEBHOOKS_QUEUE.sendBatch(
      wanted.map((r) => ({ body: { ...(JSON.parse(r.payload) as object), redelivery: true } })),
    );
    const now = Date.now();
    await c.env.DB.batch(
      wanted.map((r) =>
        c.env.DB.prepare("UPDATE webhook_deliveries SET status = 'pending', updated_at = ? WHERE id = ?").bind(
          now,
          r.id,
        ),
      ),
    );
  }
  return c.json({ redelivered: wanted.map((r) => r.id) }, 202);
});

const E = (description: string) => ({ description, schema: ErrorEnvelope });

export const deliveryDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/v1/jobs/:id/webhook-deliveries",
    summary: "Webhook delivery log of a job",
    description:
      "One row per event (webhook-id): attempts, last status code, latency, next retry, last error (truncated).",
    tag: "Webhooks",
    security: "apiKey",
    scope: "jobs",
    responses: {
      200: { description: "Deliveries", schema: z.object({ data: z.array(WebhookDelivery) }) },
      404: E("No such job"),
      401: E("Missing or invalid API key"),
    },
  },
  {
    method: "post",
    path: "/v1/jobs/:id/webhook-deliveries/redeliver",
    summary: "Send a job's webhook events again",
    description:
      "Every event of the job, or those in `event_ids`. The same webhook-id is used, so receivers can dedupe.",
    tag: "Webhooks",
    security: "apiKey",
    scope: "jobs",
    body: RedeliverRequest,
    bodyOptional: true,
    responses: {
      202: { description: "Queued", schema: z.object({ redelivered: z.array(z.string()) }) },
      404: E("No such job"),
      422: E("Unknown event id"),
    },
  },
];
