/**
 * Queue "jobs": ingest a job's URL inputs into R2 (the URL guard's edge fetch; retries see identical
 * inputs), then insert the job into its pool's dispatcher, idempotently by (job, attempt).
 */
import { queueDoublingS } from "@comfy-edge/shared/backoff";
import { type DispatchMessage, DispatchMessage as DispatchSchema, type JobError } from "@comfy-edge/shared/contract";
import { log } from "@comfy-edge/shared/log";
import { perShardMaxRunning } from "@comfy-edge/shared/pool-shards/route";
import { guardedFetch, policyFor, UrlGuardError } from "@comfy-edge/shared/url-guard";
import { consumerConfig, INPUT_RETRY } from "./config.ts";
import { edgeFetch } from "./delivery/edge-fetch.ts";
import { placeRequeued } from "./group-move.ts";
import { jobObject, jobPoolObject } from "./stubs.ts";

export type Outcome = { action: "ack"; note?: string } | { action: "retry"; delaySeconds: number; reason: string };

/** What the "jobs" queues use of the generated ConsumerEnv. */
export type JobsEnv = Pick<
  ConsumerEnv,
  | "FILES"
  | "JOBS"
  | "POOLS"
  | "DB"
  | "MAX_INPUT_BYTES"
  | "MAX_DATA_URL_BYTES"
  | "IMAGE_URL_ALLOWLIST"
  | "ALLOW_PRIVATE_URLS"
  | "ALLOW_HTTP_URLS"
  | "URL_ALLOWED_PORTS"
>;

const FETCH_TIMEOUT_MS = 30_000;

/** Retry delays for transient input failures: 2, 4, 8, 16, 32 s. */
export function retryDelaySeconds(attempts: number): number {
  return queueDoublingS(attempts, INPUT_RETRY.baseS, INPUT_RETRY.maxS);
}

/**
 * Fetches the URL inputs not yet in R2. `onFetch` runs once, before the first fetch (the job shows
 * `waiting_for: {inputs: "fetching"}` meanwhile).
 */
async function ingest(
  env: JobsEnv,
  msg: DispatchMessage,
  onFetch: () => Promise<void>,
  fetchImpl?: typeof fetch,
): Promise<JobError | { transient: string } | null> {
  const policy = policyFor(
    "image",
    {
      ALLOW_PRIVATE_URLS: env.ALLOW_PRIVATE_URLS,
      ALLOW_HTTP_URLS: env.ALLOW_HTTP_URLS,
      URL_ALLOWED_PORTS: env.URL_ALLOWED_PORTS,
      IMAGE_URL_ALLOWLIST: env.IMAGE_URL_ALLOWLIST,
      MAX_DATA_URL_BYTES: env.MAX_DATA_URL_BYTES,
    },
    { image_url_allowlist: msg.image_allowlist },
  );
  const maxBytes = consumerConfig(env).maxInputBytes;
  let announced = false;
  for (const input of msg.inputs) {
    if (input.kind !== "url") continue;
    if (await env.FILES.head(input.key)) continue; // fetched by an earlier delivery
    if (!announced) {
      announced = true;
      await onFetch();
    }
    try {
      const res = await guardedFetch(input.url, policy, {
        maxBytes,
        timeoutMs: FETCH_TIMEOUT_MS,
        expect: "image",
        fetchImpl: edgeFetch(fetchImpl),
      });
      await env.FILES.put(input.key, res.body, {
        httpMetadata: { contentType: res.sniffedType ?? res.contentType ?? "application/octet-stream" },
      });
    } catch (err) {
      if (err instanceof UrlGuardError) {
        // A server that answered 429/5xx may recover; a host that cannot be reached or did not answer within
        // the fetch timeout fails the job now rather than keeping it queued through a minute of retries.
        if (err.transient && err.status !== undefined) return { transient: `node ${input.node_id}: ${err.message}` };
        return {
          code: "input_unavailable",
          message: `The image for node ${input.node_id} could not be fetched: ${err.message}.`,
          node_id: input.node_id,
          details: { reason: err.code },
        };
      }
      throw err;
    }
  }
  return null;
}

export async function processJobMessage(
  env: JobsEnv,
  body: unknown,
  attempts: number,
  maxAttempts: number,
  options: { fetchImpl?: typeof fetch; messageId?: string } = {},
): Promise<Outcome> {
  const parsed = DispatchSchema.safeParse(body);
  if (!parsed.success) {
    log("error", { message_id: options.messageId ?? "unknown", queue: "jobs" }, "dropping malformed jobs message", {
      issues: parsed.error.issues.slice(0, 3),
    });
    return { action: "ack", note: "malformed" };
  }
  const msg = parsed.data;
  let fetching = false;
  const problem = await ingest(
    env,
    msg,
    async () => {
      fetching = true;
      await jobObject(env, msg.job_id).inputsFetching(msg.attempt, true);
    },
    options.fetchImpl,
  );
  if (problem && "transient" in problem) {
    if (attempts < maxAttempts)
      return { action: "retry", delaySeconds: retryDelaySeconds(attempts), reason: problem.transient };
    await jobObject(env, msg.job_id).failDispatch(msg.attempt, {
      code: "input_unavailable",
      message: `An input image could not be fetched after ${attempts} tries: ${problem.transient}.`,
    });
    return { action: "ack", note: "input_unavailable" };
  }
  if (problem) {
    await jobObject(env, msg.job_id).failDispatch(msg.attempt, problem);
    return { action: "ack", note: "input_unavailable" };
  }
  if (fetching) await jobObject(env, msg.job_id).inputsFetching(msg.attempt, false);
  // A re-queued job of a pool group may move to another member (group-move.ts).
  const placed = await placeRequeued(env, msg);
  if (!placed) return { action: "ack", note: "stale" };
  // The job's shard of its pool (docs/capabilities.md §7); each shard enforces its share of max_running.
  const { stub, shards } = await jobPoolObject(env, placed.pool, placed.job_id);
  const result = await stub.enqueue(
    shards > 1 ? { ...placed, max_running: perShardMaxRunning(placed.max_running, shards) } : placed,
  );
  return { action: "ack", note: placed.pool === msg.pool ? result : `${result} (moved to ${placed.pool})` };
}

/** Dead-letter queue "jobs-dlq": a job whose routing failed for good is marked failed, never dropped. */
export async function processDeadJobMessage(env: JobsEnv, body: unknown): Promise<Outcome> {
  const parsed = DispatchSchema.safeParse(body);
  if (!parsed.success) return { action: "ack", note: "malformed" };
  await jobObject(env, parsed.data.job_id).failDispatch(parsed.data.attempt, {
    code: "routing_failed",
    message: "The job could not be routed to its pool after several tries.",
  });
  return { action: "ack", note: "routing_failed" };
}
