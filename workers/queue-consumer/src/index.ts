/** Queue consumer: thin handlers; each message is acked or retried on its own. */
import { type JobsEnv, type Outcome, processDeadJobMessage, processJobMessage } from "./jobs.ts";
import { processDeadWebhookMessage, processWebhookMessage, type WebhooksEnv } from "./webhooks.ts";

/** Must match max_retries of the "jobs" consumer in wrangler.toml (attempts = retries + 1). */
const JOBS_MAX_ATTEMPTS = 6;

function apply(message: Message<unknown>, outcome: Outcome): void {
  if (outcome.action === "ack") message.ack();
  else message.retry({ delaySeconds: outcome.delaySeconds });
}

export default {
  async queue(batch: MessageBatch<unknown>, env: ConsumerEnv): Promise<void> {
    const jobsEnv = env as unknown as JobsEnv;
    const webhooksEnv = env as unknown as WebhooksEnv;
    await Promise.all(
      batch.messages.map(async (message) => {
        try {
          let outcome: Outcome;
          if (batch.queue === "jobs")
            outcome = await processJobMessage(jobsEnv, message.body, message.attempts, JOBS_MAX_ATTEMPTS);
          else if (batch.queue === "jobs-dlq") outcome = await processDeadJobMessage(jobsEnv, message.body);
          else if (batch.queue === "webhooks")
            outcome = await processWebhookMessage(webhooksEnv, message.body, message.attempts);
          else if (batch.queue === "webhooks-dlq") outcome = await processDeadWebhookMessage(webhooksEnv, message.body);
          else outcome = { action: "ack", note: "unknown queue" };
          apply(message, outcome);
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
} satisfies ExportedHandler<ConsumerEnv>;
