/**
 * Queue consumer: thin handlers; each message is acked or retried on its own, all messages of a batch at
 * once. The handler object is created once per isolate and holds what lasts across batches: the health of
 * webhook endpoints (delivery/endpoints.ts) and the parsed settings.
 */
import { queueDoublingS } from "@comfy-edge/shared/backoff";
import { log } from "@comfy-edge/shared/log";
import { consumerConfig, FAILED_MESSAGE_RETRY, JOBS_MAX_ATTEMPTS } from "./config.ts";
import { DEFAULT_ENDPOINT_LIMITS, EndpointHealth } from "./delivery/endpoints.ts";
import { type Outcome, processDeadJobMessage, processJobMessage } from "./jobs.ts";
import { ANSWER_WAIT_MS, processDeadWebhookMessage, processWebhookMessage, type WebhookDeps } from "./webhooks.ts";

/** What a message's outcome asks of the queue (pure; tested in index.test.ts). */
export function settle(outcome: Outcome): { ack: true } | { ack: false; delaySeconds: number } {
  return outcome.action === "ack" ? { ack: true } : { ack: false, delaySeconds: outcome.delaySeconds };
}

/** Retry delay of a message whose handler threw on its `attempts`-th delivery. */
export function failedMessageDelayS(attempts: number): number {
  return queueDoublingS(attempts, FAILED_MESSAGE_RETRY.baseS, FAILED_MESSAGE_RETRY.maxS);
}

function apply(message: Message<unknown>, outcome: Outcome): void {
  const s = settle(outcome);
  if (s.ack) message.ack();
  else message.retry({ delaySeconds: s.delaySeconds });
}

/** The job a message is about, when its body names one (for the log line). */
function jobIdOf(body: unknown): string | undefined {
  const id = typeof body === "object" && body !== null ? Reflect.get(body, "job_id") : undefined;
  return typeof id === "string" ? id : undefined;
}

export interface QueueHandlerOptions {
  endpoints?: EndpointHealth;
  answerWaitMs?: number;
  fetchImpl?: typeof fetch;
}

export function createQueueHandler(options: QueueHandlerOptions = {}) {
  const endpoints = options.endpoints ?? new EndpointHealth(DEFAULT_ENDPOINT_LIMITS);
  async function handle(queue: string, message: Message<unknown>, env: ConsumerEnv, ctx?: ExecutionContext) {
    if (queue === "jobs")
      return processJobMessage(env, message.body, message.attempts, JOBS_MAX_ATTEMPTS, {
        messageId: message.id,
      });
    if (queue === "jobs-dlq") return processDeadJobMessage(env, message.body);
    if (queue === "webhooks-dlq") return processDeadWebhookMessage(env, message.body);
    if (queue !== "webhooks") return { action: "ack", note: "unknown queue" } satisfies Outcome;
    const deps: WebhookDeps = {
      endpoints,
      delays: consumerConfig(env).webhookDelaysS,
      answerWaitMs: options.answerWaitMs ?? ANSWER_WAIT_MS,
      waitUntil: ctx ? (promise) => ctx.waitUntil(promise) : undefined,
      fetchImpl: options.fetchImpl,
      messageId: message.id,
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
            const jobId = jobIdOf(message.body);
            const scope = jobId ? { job_id: jobId } : { message_id: message.id, queue: batch.queue };
            log("error", scope, "queue message failed", {
              queue: batch.queue,
              message_id: message.id,
              attempts: message.attempts,
              error: String(err),
            });
            message.retry({ delaySeconds: failedMessageDelayS(message.attempts) });
          }
        }),
      );
    },
  };
}

export default createQueueHandler() satisfies ExportedHandler<ConsumerEnv>;
