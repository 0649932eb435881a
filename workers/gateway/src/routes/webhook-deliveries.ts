/** Webhook delivery log and redelivery for one job (mounted under /v1/jobs/:id, which authenticates). */

import { ErrorEnvelope, RedeliverRequest, WebhookDelivery } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { Hono } from "hono";
import { z } from "zod";
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

/** At most one accepted redeliver call per job in this many seconds. */
export const REDELIVER_INTERVAL_S = 30;

/** Delivery states a redelivery without `event_ids` sends again: those that ended without a delivery. */
const UNDELIVERED = new Set(["failed", "gone", "skipped"]);

/**
 * Reserves this job's redelivery slot: one statement, so two concurrent calls cannot both pass. Returns the
 * seconds to wait when the last accepted call is more recent than REDELIVER_INTERVAL_S, else null.
 */
async function reserveRedelivery(db: D1Database, jobId: string, now: number): Promise<number | null> {
  const interval = REDELIVER_INTERVAL_S * 1000;
  const [reserved, current] = await db.batch<{ last_at: number }>([
    db
      .prepare(
        `INSERT INTO webhook_redeliveries (job_id, last_at) VALUES (?, ?)
         ON CONFLICT (job_id) DO UPDATE SET last_at = excluded.last_at WHERE webhook_redeliveries.last_at <= ?
         RETURNING last_at`,
      )
      .bind(jobId, now, now - interval),
    db.prepare("SELECT last_at FROM webhook_redeliveries WHERE job_id = ?").bind(jobId),
  ]);
  if ((reserved?.results.length ?? 0) > 0) return null;
  const last = current?.results[0]?.last_at ?? now;
  return Math.max(1, Math.ceil((last + interval - now) / 1000));
}

deliveryRoutes.post("/redeliver", async (c) => {
  const jobId = await ownJob(c);
  const hasBody = (c.req.header("content-length") ?? "0") !== "0" || c.req.header("content-type") !== undefined;
  const body = hasBody ? await readJson(c, RedeliverRequest, { maxBytes: 64 * 1024 }) : {};
  const { results } = await c.env.DB.prepare("SELECT * FROM webhook_deliveries WHERE job_id = ? ORDER BY sequence")
    .bind(jobId)
    .all<Row>();
  const ids = body.event_ids;
  const wanted = ids ? results.filter((r) => ids.includes(r.id)) : results.filter((r) => UNDELIVERED.has(r.status));
  if (ids && wanted.length !== new Set(ids).size) {
    const missing = ids.find((id) => !results.some((r) => r.id === id));
    throw new ApiError(422, "unknown_event", `No delivery '${missing?.slice(0, 200)}' for this job.`, {
      param: "event_ids",
    });
  }
  if (wanted.length === 0) return c.json({ redelivered: [] }, 202);
  const now = Date.now();
  const wait = await reserveRedelivery(c.env.DB, jobId, now);
  if (wait !== null) {
    throw new ApiError(
      429,
      "rate_limited",
      `This job's webhooks were redelivered less than ${REDELIVER_INTERVAL_S} s ago; try again in ${wait} s.`,
      { headers: { "Retry-After": String(wait) } },
    );
  }
  await c.env.WEBHOOKS_QUEUE.sendBatch(
    wanted.map((r) => ({ body: { ...(JSON.parse(r.payload) as object), redelivery: true, redelivery_at: now } })),
  );
  // Shown as pending again, unless the consumer has already written a newer state.
  await c.env.DB.batch(
    wanted.map((r) =>
      c.env.DB.prepare(
        "UPDATE webhook_deliveries SET status = 'pending', next_retry_at = ?, updated_at = ? WHERE id = ? AND updated_at = ?",
      ).bind(now, now, r.id, r.updated_at),
    ),
  );
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
      "Without a body: the events whose delivery ended without success (`failed`, `gone`, `skipped`); with " +
      "`event_ids`: those events, whatever their state. The same webhook-id is used, so receivers can dedupe. " +
      `At most one call that sends something per job every ${REDELIVER_INTERVAL_S} s (429 \`rate_limited\` with Retry-After).`,
    tag: "Webhooks",
    security: "apiKey",
    scope: "jobs",
    body: RedeliverRequest,
    bodyOptional: true,
    responses: {
      202: {
        description: "Queued (the ids sent again; empty when nothing needed it)",
        schema: z.object({ redelivered: z.array(z.string()) }),
      },
      404: E("No such job"),
      422: E("Unknown event id"),
      429: E(`A redelivery of this job was accepted less than ${REDELIVER_INTERVAL_S} s ago (or the key's rate limit)`),
    },
  },
];
