/**
 * Queue "webhooks": one signed POST per message (Standard Webhooks), 10 s timeout, the URL guard's edge
 * fetch on every delivery. 2xx delivered; 410 stops deliveries to that URL for the job; anything else
 * retries with exponential backoff and jitter; after the last attempt the delivery is marked failed.
 * Every event is in the delivery log (D1 webhook_deliveries) from the moment the consumer first sees it.
 *
 * A slow or dead endpoint delays only its own deliveries: endpoints are admitted by EndpointHealth
 * (in-flight limit, circuit breaker), and an answer not back within `answerWaitMs` no longer holds the
 * batch: the message is scheduled for retry at once and the POST finishes in the background, recording
 * its result (a retry of a delivered event is acknowledged without a second POST).
 *
 * Every retry tells the job object when the next attempt is due (`webhookPending`), so an event lost with
 * an in-memory queue is re-sent promptly after a restart; `ackWebhook` when the consumer is done with it.
 */
import { WebhookMessage } from "@comfy-edge/shared/contract";
import { toPublicJob } from "@comfy-edge/shared/job-view";
import { log } from "@comfy-edge/shared/log";
import { Presigner } from "@comfy-edge/shared/presign";
import { openSecret, secretBox } from "@comfy-edge/shared/secret-box";
import { policyFor } from "@comfy-edge/shared/url-guard";
import { signWebhook } from "@comfy-edge/shared/webhook-sign";
import type { EndpointHealth, EndpointResult, Refused } from "./delivery/endpoints.ts";
import { JobSnapshot } from "./delivery/job-snapshot.ts";
import { alreadyDone, openDelivery, type TenantSecrets, writeLog } from "./delivery/log.ts";
import { isLastAttempt, webhookRetryDelay } from "./delivery/retry.ts";
import { DELIVERY_TIMEOUT_MS, type PostResult, postWebhook } from "./delivery/transport.ts";
import type { Outcome } from "./jobs.ts";
import { jobObject } from "./stubs.ts";

/** What the "webhooks" queues use of the generated ConsumerEnv (WEBHOOK_SECRET_KEY opens the tenants' secrets). */
export type WebhooksEnv = Pick<
  ConsumerEnv,
  | "DB"
  | "JOBS"
  | "R2_ACCESS_KEY_ID"
  | "R2_SECRET_ACCESS_KEY"
  | "R2_S3_ENDPOINT"
  | "R2_BUCKET_NAME"
  | "WEBHOOK_SECRET_KEY"
  | "ALLOW_PRIVATE_URLS"
  | "ALLOW_HTTP_URLS"
  | "URL_ALLOWED_PORTS"
>;

/** What a delivery needs besides the env: state and settings held by the consumer instance. */
export interface WebhookDeps {
  endpoints: EndpointHealth;
  /** Retry delays in seconds (WEBHOOK_RETRY_DELAYS_S); their count is the number of retries. */
  delays: number[];
  /** How long a batch waits for an answer before the attempt goes on in the background. */
  answerWaitMs: number;
  /** Keeps a background attempt alive after the batch is answered; without it every answer is awaited. */
  waitUntil?: (promise: Promise<unknown>) => void;
  fetchImpl?: typeof fetch;
  random?: () => number;
  /** The queue message (for the log line of one that cannot be read). */
  messageId?: string;
}

export const ANSWER_WAIT_MS = 1_500;
const USER_AGENT = "comfy-edge-webhooks/1";

/** The consumer is done with the event: the job stops re-sending it. */
function ackJob(env: WebhooksEnv, msg: WebhookMessage): Promise<void> {
  return jobObject(env, msg.job_id).ackWebhook(msg.event_id);
}

/** Tells the job when the next attempt is due. Best effort: without it the job re-sends later anyway. */
async function notifyPending(env: WebhooksEnv, msg: WebhookMessage, nextAttemptAt: number): Promise<void> {
  try {
    await jobObject(env, msg.job_id).webhookPending(msg.event_id, nextAttemptAt);
  } catch (err) {
    log("warn", { job_id: msg.job_id, event_id: msg.event_id }, "webhookPending failed", { error: String(err) });
  }
}

function urlEnv(env: WebhooksEnv): Record<string, string | undefined> {
  return {
    ALLOW_PRIVATE_URLS: env.ALLOW_PRIVATE_URLS,
    ALLOW_HTTP_URLS: env.ALLOW_HTTP_URLS,
    URL_ALLOWED_PORTS: env.URL_ALLOWED_PORTS,
  };
}

async function buildRequest(env: WebhooksEnv, msg: WebhookMessage, tenant: TenantSecrets) {
  const now = Date.now();
  const box = await secretBox(env.WEBHOOK_SECRET_KEY);
  const secrets = [await openSecret(box, tenant.webhook_secret, msg.tenant_id)];
  if (tenant.webhook_secret_previous && (tenant.webhook_secret_previous_expires_at ?? 0) > now)
    secrets.push(await openSecret(box, tenant.webhook_secret_previous, msg.tenant_id));
  const data = await toPublicJob(JobSnapshot.parse(msg.job), new Presigner(env, msg.origin));
  const payload = JSON.stringify({
    type: msg.type,
    timestamp: new Date(msg.at).toISOString(),
    sequence: msg.sequence,
    data,
  });
  const timestamp = Math.floor(now / 1000);
  const headers = {
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    "webhook-id": msg.event_id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signWebhook(secrets, msg.event_id, timestamp, payload),
  };
  const allowlist = tenant.webhook_host_allowlist ? (JSON.parse(tenant.webhook_host_allowlist) as string[]) : null;
  const policy = policyFor("webhook", urlEnv(env), { webhook_host_allowlist: allowlist });
  return { payload, headers, policy };
}

function endpointResult(result: PostResult): EndpointResult {
  if (result.kind === "error") return { kind: "no_answer", error: result.error.message };
  return { kind: "answer", ms: result.ms, ok: result.status >= 200 && result.status < 300 };
}

/** Resolves with the result, or with null once `ms` have passed without one. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  const { promise: deadline, resolve } = Promise.withResolvers<null>();
  const timer = setTimeout(() => resolve(null), ms);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export async function processWebhookMessage(
  env: WebhooksEnv,
  body: unknown,
  attempts: number,
  deps: WebhookDeps,
): Promise<Outcome> {
  const parsed = WebhookMessage.safeParse(body);
  if (!parsed.success) {
    const scope = { message_id: deps.messageId ?? "unknown", queue: "webhooks" };
    log("error", scope, "dropping malformed webhooks message", { issues: parsed.error.issues.slice(0, 3) });
    return { action: "ack", note: "malformed" };
  }
  const msg = parsed.data;
  const { row, gone, tenant } = await openDelivery(env.DB, msg);
  if (alreadyDone(row, msg)) {
    await ackJob(env, msg);
    return { action: "ack", note: row.status === "delivered" ? "already delivered" : `already ${row.status}` };
  }
  if (gone && !msg.redelivery) {
    await writeLog(env.DB, msg, {
      status: "skipped",
      attempted: false,
      status_code: null,
      latency_ms: null,
      next_retry_at: null,
      last_error: "the receiver answered 410 Gone to an earlier event of this job",
    });
    await ackJob(env, msg);
    return { action: "ack", note: "gone" };
  }
  if (!tenant) {
    await ackJob(env, msg);
    return { action: "ack", note: "tenant gone" };
  }
  // An event re-sent by the job (after a restart) continues its retry schedule where the log left it.
  const attempt = msg.redelivery ? attempts : Math.max(attempts, row.attempts + 1);
  const admitted = deps.endpoints.admit(msg.url);
  if (!admitted.ok) return notSent(env, msg, attempt, admitted, deps);

  let sending: Promise<PostResult>;
  try {
    const request = await buildRequest(env, msg, tenant);
    sending = postWebhook(msg.url, request.policy, request.headers, request.payload, { fetchImpl: deps.fetchImpl });
  } catch (err) {
    admitted.done({ kind: "answer", ms: 0, ok: true });
    throw err;
  }
  sending = sending.then(
    (result) => {
      admitted.done(endpointResult(result));
      return result;
    },
    (err: unknown) => {
      admitted.done({ kind: "answer", ms: 0, ok: true });
      throw err;
    },
  );
  const waitUntil = deps.waitUntil;
  if (!waitUntil || isLastAttempt(deps.delays, attempt)) return finish(env, msg, attempt, await sending, deps, null);
  const early = admitted.patient ? await within(sending, deps.answerWaitMs) : null;
  if (early) return finish(env, msg, attempt, early, deps, null);
  admitted.slow();

  // No answer yet: free the batch. The retry comes after the attempt's own timeout has surely ended.
  const floor = Math.ceil((DELIVERY_TIMEOUT_MS - deps.answerWaitMs) / 1000) + 2;
  const delay = Math.max(webhookRetryDelay(deps.delays, attempt, deps.random), floor);
  const retryAt = Date.now() + delay * 1000;
  await notifyPending(env, msg, retryAt);
  waitUntil(
    sending
      .then((result) => finish(env, msg, attempt, result, deps, retryAt))
      .catch((err: unknown) =>
        log("error", { job_id: msg.job_id, event_id: msg.event_id }, "background webhook attempt failed", {
          error: String(err),
        }),
      ),
  );
  return { action: "retry", delaySeconds: delay, reason: `no answer within ${deps.answerWaitMs} ms; still waiting` };
}

/** The endpoint was not tried now (circuit open, too many in flight): an attempt that failed at once. */
async function notSent(
  env: WebhooksEnv,
  msg: WebhookMessage,
  attempt: number,
  refused: Refused,
  deps: WebhookDeps,
): Promise<Outcome> {
  if (isLastAttempt(deps.delays, attempt)) {
    await writeLog(env.DB, msg, {
      status: "failed",
      attempted: true,
      status_code: null,
      latency_ms: null,
      next_retry_at: null,
      last_error: refused.reason,
    });
    await ackJob(env, msg);
    return { action: "ack", note: "failed" };
  }
  const wait = Math.ceil((refused.retryAt - Date.now()) / 1000);
  const delay = Math.max(webhookRetryDelay(deps.delays, attempt, deps.random), wait);
  const retryAt = Date.now() + delay * 1000;
  await writeLog(env.DB, msg, {
    status: "pending",
    attempted: true,
    status_code: null,
    latency_ms: null,
    next_retry_at: retryAt,
    last_error: refused.reason,
  });
  await notifyPending(env, msg, retryAt);
  return { action: "retry", delaySeconds: delay, reason: refused.reason };
}

function errorText(result: PostResult): string {
  if (result.kind === "error") return `${result.error.code}: ${result.error.message}`;
  const redirect = result.status >= 300 && result.status < 400;
  return `HTTP ${result.status}${redirect ? " (redirects are not followed: configure the final URL)" : ""}: ${result.preview}`;
}

/** Records an attempt's result. `scheduledAt`: the retry already scheduled for a background attempt. */
async function finish(
  env: WebhooksEnv,
  msg: WebhookMessage,
  attempt: number,
  result: PostResult,
  deps: WebhookDeps,
  scheduledAt: number | null,
): Promise<Outcome> {
  const statusCode = result.kind === "answer" ? result.status : null;
  const base = { attempted: true, status_code: statusCode, latency_ms: result.ms };
  if (statusCode !== null && statusCode >= 200 && statusCode < 300) {
    await writeLog(env.DB, msg, { ...base, status: "delivered", next_retry_at: null, last_error: null });
    await ackJob(env, msg);
    return { action: "ack", note: "delivered" };
  }
  if (statusCode === 410) {
    const last_error = "410 Gone: no further deliveries to this URL for this job";
    await writeLog(env.DB, msg, { ...base, status: "gone", next_retry_at: null, last_error });
    await ackJob(env, msg);
    return { action: "ack", note: "gone" };
  }
  const error = errorText(result);
  const permanent =
    result.kind === "error" && (result.error.code === "unsafe_url" || result.error.code === "url_not_allowed");
  if (permanent || isLastAttempt(deps.delays, attempt)) {
    await writeLog(env.DB, msg, { ...base, status: "failed", next_retry_at: null, last_error: error });
    await ackJob(env, msg);
    return { action: "ack", note: permanent ? "refused by the URL guard" : "failed" };
  }
  const delay = scheduledAt === null ? webhookRetryDelay(deps.delays, attempt, deps.random) : 0;
  const retryAt = scheduledAt ?? Date.now() + delay * 1000;
  await writeLog(env.DB, msg, { ...base, status: "pending", next_retry_at: retryAt, last_error: error });
  await notifyPending(env, msg, retryAt);
  return { action: "retry", delaySeconds: Math.max(1, Math.ceil((retryAt - Date.now()) / 1000)), reason: error };
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
  await ackJob(env, msg);
  return { action: "ack", note: "dead-lettered" };
}
