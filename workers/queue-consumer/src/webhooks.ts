/**
 * Queue "webhooks": one signed POST per message (Standard Webhooks), 10 s timeout, the URL guard's edge
 * fetch on every delivery. 2xx delivered; 410 stops deliveries to that URL for the job; anything else
 * retries with exponential backoff and jitter; after the last attempt the message dead-letters and the
 * delivery is marked failed. Every attempt is written to the delivery log (D1 webhook_deliveries).
 */
import { type JobWebhookRpc, WebhookMessage } from "../../shared/contract/index.ts";
import { type JobView, toPublicJob } from "../../shared/job-view.ts";
import { Presigner } from "../../shared/presign.ts";
import { openSecret, secretBox } from "../../shared/secret-box.ts";
import { guardedFetch, policyFor, UrlGuardError } from "../../shared/url-guard/index.ts";
import { signWebhook } from "../../shared/webhook-sign.ts";
import type { Outcome } from "./jobs.ts";

export interface WebhooksEnv {
  DB: D1Database;
  JOBS: DurableObjectNamespace;
  R2_ACCESS_KEY_ID: string;
  R2_SECRET_ACCESS_KEY: string;
  R2_S3_ENDPOINT: string;
  R2_BUCKET_NAME: string;
  /** Opens the tenants' webhook secrets, stored encrypted in D1 (shared/secret-box.ts). */
  WEBHOOK_SECRET_KEY: string;
  /** Comma-separated retry delays in seconds; its length is the number of retries (max_retries). */
  WEBHOOK_RETRY_DELAYS_S: string;
  ALLOW_PRIVATE_URLS?: string;
  ALLOW_HTTP_URLS?: string;
  URL_ALLOWED_PORTS?: string;
}

export const DELIVERY_TIMEOUT_MS = 10_000;
const USER_AGENT = "comfy-edge-webhooks/1";

export function retryDelays(env: Pick<WebhooksEnv, "WEBHOOK_RETRY_DELAYS_S">): number[] {
  const parsed = (env.WEBHOOK_RETRY_DELAYS_S ?? "")
    .split(",")
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isFinite(n) && n >= 0);
  return parsed.length > 0 ? parsed : [30, 120, 600, 1800, 3600, 10800, 21600, 43200];
}

/** Delay before retry number `attempt` (1-based) with +-20% jitter, at least 1 s. */
export function webhookRetryDelay(delays: number[], attempt: number, random: () => number = Math.random): number {
  const base = delays[Math.min(attempt, delays.length) - 1] ?? 60;
  return Math.max(1, Math.round(base * (0.8 + 0.4 * random())));
}

function jobRpc(env: WebhooksEnv, jobId: string): JobWebhookRpc {
  return env.JOBS.get(env.JOBS.idFromString(jobId.slice(4))) as unknown as JobWebhookRpc;
}

interface LogUpdate {
  status: "pending" | "delivered" | "failed" | "gone" | "skipped";
  attempts: number;
  status_code: number | null;
  latency_ms: number | null;
  next_retry_at: number | null;
  last_error: string | null;
}

async function writeLog(env: WebhooksEnv, msg: WebhookMessage, update: LogUpdate): Promise<void> {
  const now = Date.now();
  await env.DB.prepare(
    `INSERT INTO webhook_deliveries (id, job_id, tenant_id, event, sequence, url, status, attempts, status_code, latency_ms,
       next_retry_at, last_error, payload, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET status = excluded.status, attempts = webhook_deliveries.attempts + 1,
       status_code = excluded.status_code, latency_ms = excluded.latency_ms, next_retry_at = excluded.next_retry_at,
       last_error = excluded.last_error, updated_at = excluded.updated_at`,
  )
    .bind(
      msg.event_id,
      msg.job_id,
      msg.tenant_id,
      msg.type,
      msg.sequence,
      msg.url,
      update.status,
      update.attempts,
      update.status_code,
      update.latency_ms,
      update.next_retry_at,
      update.last_error?.slice(0, 500) ?? null,
      JSON.stringify(msg),
      now,
      now,
    )
    .run();
}

interface TenantSecrets {
  webhook_secret: string;
  webhook_secret_previous: string | null;
  webhook_secret_previous_expires_at: number | null;
  webhook_host_allowlist: string | null;
}

export async function processWebhookMessage(
  env: WebhooksEnv,
  body: unknown,
  attempts: number,
  options: { fetchImpl?: typeof fetch } = {},
): Promise<Outcome> {
  const parsed = WebhookMessage.safeParse(body);
  if (!parsed.success) {
    console.error(
      JSON.stringify({
        level: "error",
        msg: "dropping malformed webhooks message",
        issues: parsed.error.issues.slice(0, 3),
      }),
    );
    return { action: "ack", note: "malformed" };
  }
  const msg = parsed.data;
  const prior = await env.DB.prepare("SELECT status FROM webhook_deliveries WHERE id = ?")
    .bind(msg.event_id)
    .first<{ status: string }>();
  if (prior?.status === "delivered" && !msg.redelivery) {
    await jobRpc(env, msg.job_id).ackWebhook(msg.event_id);
    return { action: "ack", note: "already delivered" };
  }
  const gone = await env.DB.prepare(
    "SELECT 1 AS x FROM webhook_deliveries WHERE job_id = ? AND url = ? AND status = 'gone' AND id != ?",
  )
    .bind(msg.job_id, msg.url, msg.event_id)
    .first();
  if (gone && !msg.redelivery) {
    await writeLog(env, msg, {
      status: "skipped",
      attempts: 0,
      status_code: null,
      latency_ms: null,
      next_retry_at: null,
      last_error: "the receiver answered 410 Gone to an earlier event of this job",
    });
    await jobRpc(env, msg.job_id).ackWebhook(msg.event_id);
    return { action: "ack", note: "gone" };
  }
  const tenant = await env.DB.prepare(
    "SELECT webhook_secret, webhook_secret_previous, webhook_secret_previous_expires_at, webhook_host_allowlist FROM tenants WHERE id = ?",
  )
    .bind(msg.tenant_id)
    .first<TenantSecrets>();
  if (!tenant) {
    await jobRpc(env, msg.job_id).ackWebhook(msg.event_id);
    return { action: "ack", note: "tenant gone" };
  }
  const now = Date.now();
  const box = await secretBox(env.WEBHOOK_SECRET_KEY);
  const secrets = [await openSecret(box, tenant.webhook_secret, msg.tenant_id)];
  if (tenant.webhook_secret_previous && (tenant.webhook_secret_previous_expires_at ?? 0) > now)
    secrets.push(await openSecret(box, tenant.webhook_secret_previous, msg.tenant_id));

  const presigner = new Presigner(env, msg.origin);
  const data = await toPublicJob(msg.job as unknown as JobView, presigner);
  const payload = JSON.stringify({
    type: msg.type,
    timestamp: new Date(msg.at).toISOString(),
    sequence: msg.sequence,
    data,
  });
  const timestamp = Math.floor(now / 1000);
  const signature = await signWebhook(secrets, msg.event_id, timestamp, payload);
  const allowlist = tenant.webhook_host_allowlist ? (JSON.parse(tenant.webhook_host_allowlist) as string[]) : null;
  const policy = policyFor("webhook", env as unknown as Record<string, string | undefined>, {
    webhook_host_allowlist: allowlist,
  });

  const delays = retryDelays(env);
  const started = Date.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  let permanent = false;
  try {
    const res = await guardedFetch(msg.url, policy, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg.event_id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signature,
      },
      body: payload,
      maxBytes: 64 * 1024,
      timeoutMs: DELIVERY_TIMEOUT_MS,
      maxRedirects: 0,
      expect: "any",
      fetchImpl: options.fetchImpl,
    });
    statusCode = res.status;
    if (res.status >= 200 && res.status < 300) {
      await writeLog(env, msg, {
        status: "delivered",
        attempts: 1,
        status_code: res.status,
        latency_ms: Date.now() - started,
        next_retry_at: null,
        last_error: null,
      });
      await jobRpc(env, msg.job_id).ackWebhook(msg.event_id);
      return { action: "ack", note: "delivered" };
    }
    if (res.status === 410) {
      await writeLog(env, msg, {
        status: "gone",
        attempts: 1,
        status_code: 410,
        latency_ms: Date.now() - started,
        next_retry_at: null,
        last_error: "410 Gone: no further deliveries to this URL for this job",
      });
      await jobRpc(env, msg.job_id).ackWebhook(msg.event_id);
      return { action: "ack", note: "gone" };
    }
    error = `HTTP ${res.status}${res.status >= 300 && res.status < 400 ? " (redirects are not followed: configure the final URL)" : ""}: ${new TextDecoder().decode(res.body.slice(0, 200))}`;
  } catch (err) {
    if (!(err instanceof UrlGuardError)) throw err;
    error = `${err.code}: ${err.message}`;
    permanent = err.code === "unsafe_url" || err.code === "url_not_allowed";
  }
  if (permanent) {
    await writeLog(env, msg, {
      status: "failed",
      attempts: 1,
      status_code: statusCode,
      latency_ms: Date.now() - started,
      next_retry_at: null,
      last_error: error,
    });
    await jobRpc(env, msg.job_id).ackWebhook(msg.event_id);
    return { action: "ack", note: "refused by the URL guard" };
  }
  // Retry; past the last delay the queue moves the message to the dead-letter queue.
  const delay = webhookRetryDelay(delays, attempts);
  const last = attempts > delays.length;
  await writeLog(env, msg, {
    status: "pending",
    attempts: 1,
    status_code: statusCode,
    latency_ms: Date.now() - started,
    next_retry_at: last ? null : Date.now() + delay * 1000,
    last_error: error,
  });
  return { action: "retry", delaySeconds: delay, reason: error ?? "failed" };
}

/** Dead-letter queue "webhooks-dlq": the delivery is marked failed; the job stops re-sending it. */
export async function processDeadWebhookMessage(env: WebhooksEnv, body: unknown): Promise<Outcome> {
  const parsed = WebhookMessage.safeParse(body);
  if (!parsed.success) return { action: "ack", note: "malformed" };
  const msg = parsed.data;
  await env.DB.prepare(
    "UPDATE webhook_deliveries SET status = 'failed', next_retry_at = NULL, updated_at = ? WHERE id = ? AND status != 'delivered'",
  )
    .bind(Date.now(), msg.event_id)
    .run();
  await jobRpc(env, msg.job_id).ackWebhook(msg.event_id);
  return { action: "ack", note: "dead-lettered" };
}
