/**
 * Queue consumer: thin handlers; each message is acked or retried on its own, all messages of a batch at
 * once. The handler object is created once per isolate and holds what lasts across batches: the health of
 * webhook endpoints (delivery/endpoints.ts) and the parsed settings.
 */
import { DEFAULT_ENDPOINT_LIMITS, EndpointHealth } from "./delivery/endpoints.ts";
import { retryDelays } from "./delivery/retry.ts";
import { type Outcome, processDeadJobMessage, processJobMessage } from "./jobs.ts";
import { ANSWER_WAIT_MS, processDeadWebhookMessage, processWebhookMessage, type WebhookDeps } from "./webhooks.ts";

/** Must match max_retries of the "jobs" consumer in wrangler.toml (attempts = retries + 1). */
const JOBS_MAX_ATTEMPTS = 6;

function apply(message: Message<unknown>, outcome: Outcome): void {
  if (outcome.action === "ack") message.ack();
  else message.retry({ delaySeconds: outcome.delaySeconds });
}

export interface QueueHandlerOptions {
  endpoints?: EndpointHealth;
  answerWaitMs?: number;
  fetchImpl?: typeof fetch;
}

export function createQueueHandler(options: QueueHandlerOptions = {}) {
  const endpoints = options.endpoints ?? new EndpointHealth(DEFAULT_ENDPOINT_LIMITS);
  // Parsed once (again only if the setting changes).
  let delays = { raw: undefined as string | undefined, parsed: retryDelays(undefined) };
  const delaysFor = (raw: string | undefined) => {
    if (delays.raw !== raw) delays = { raw, parsed: retryDelays(raw) };
    return delays.parsed;
  };

  async function handle(queue: string, message: Message<unknown>, env: ConsumerEnv, ctx?: ExecutionContext) {
    if (queue === "jobs") return processJobMessage(env, message.body, message.attempts, JOBS_MAX_ATTEMPTS);
    if (queue === "jobs-dlq") return processDeadJobMessage(env, message.body);
    if (queue === "webhooks-dlq") return processDeadWebhookMessage(env, message.body);
    if (queue !== "webhooks") return { action: "ack", note: "unknown queue" } satisfies Outcome;
    const deps: WebhookDeps = {
      endpoints,
      delays: delaysFor(env.WEBHOOK_RETRY_DELAYS_S),
      answerWaitMs: options.answerWaitMs ?? ANSWER_WAIT_MS,
      waitUntil: ctx ? (promise) => ctx.waitUntil(promise) : undefined,
      fetchImpl: options.fetchImpl,
    };
    return processWebhookMessage(env, message.body, message.attempts, deps);
  }

  return {
    async queue(batch: MessageBatch<unknown>, env: ConsumerEnv, ctx?: ExecutionContext): Promise<void> {
      await Promise.all(
        batch.messages.map(async (message) => {
          try {
            apply(message, await handle(batch.queue, message, env, ctx));
          } catch (err) {
            console.error(
              JSON.stringify({
                level: "error",
                msg: "queue message failed",
                queue: batch.queue,
                id: message.id,
                attempts: message.attempts,
                error: String(err),
              }),
            );
            message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
          }
        }),
      );
    },
  };
}

export default createQueueHandler() satisfies ExportedHandler<ConsumerEnv>;
