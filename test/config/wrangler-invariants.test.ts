/**
 * What the code relies on in the two wrangler.toml files (issue 13.3): queue retry counts against the code's
 * constants, the webhook delay table against the webhooks consumer's max_retries, every retry delay the code
 * can ask for within the Queues per-message delay limit (jitter included), and both files' [vars] parse.
 */
import path from "node:path";
import { QUEUE_MAX_DELAY_S, queueDoublingS } from "@comfy-edge/shared/backoff";
import { describe, expect, it } from "vitest";
import { experimental_readRawConfig } from "wrangler";
import { parseGatewayConfig } from "../../workers/gateway/src/config.ts";
import {
  DEFAULT_RETRY_DELAYS_S,
  FAILED_MESSAGE_RETRY,
  INPUT_RETRY,
  JOBS_MAX_RETRIES,
  parseConsumerConfig,
} from "../../workers/queue-consumer/src/config.ts";
import { webhookRetryDelay } from "../../workers/queue-consumer/src/delivery/retry.ts";

const root = path.resolve(import.meta.dirname, "../..");
const read = (file: string) => experimental_readRawConfig({ config: path.join(root, file) }).rawConfig;
const gateway = read("wrangler.toml");
const consumer = read("workers/queue-consumer/wrangler.toml");

interface QueueConsumer {
  queue: string;
  max_retries?: number;
  retry_delay?: number;
  dead_letter_queue?: string;
}

function queueConsumer(queue: string): QueueConsumer {
  const consumers: QueueConsumer[] = consumer.queues?.consumers ?? [];
  const found = consumers.find((c) => c.queue === queue);
  if (!found) throw new Error(`workers/queue-consumer/wrangler.toml has no consumer for queue "${queue}"`);
  return found;
}

const vars = (config: typeof gateway): Record<string, unknown> => config.vars ?? {};

describe("wrangler.toml invariants", () => {
  it("both files' [vars] parse with the workers' own config parsers", () => {
    expect(() => parseGatewayConfig(vars(gateway))).not.toThrow();
    expect(() => parseConsumerConfig(vars(consumer))).not.toThrow();
    // Both workers cap input images the same way (uploaded files at the gateway, fetched URLs at the consumer).
    expect(parseConsumerConfig(vars(consumer)).maxInputBytes).toBe(parseGatewayConfig(vars(gateway)).maxInputBytes);
  });

  it("every queue the gateway produces to has a consumer with a dead-letter queue that is consumed too", () => {
    for (const producer of gateway.queues?.producers ?? []) {
      const c = queueConsumer(producer.queue);
      expect(c.dead_letter_queue, producer.queue).toBeTruthy();
      queueConsumer(c.dead_letter_queue!);
    }
  });

  it('the "jobs" consumer retries as often as the code expects', () => {
    expect(queueConsumer("jobs").max_retries).toBe(JOBS_MAX_RETRIES);
  });

  it('the webhook delay table has one delay per retry of the "webhooks" consumer', () => {
    const retries = queueConsumer("webhooks").max_retries;
    expect(parseConsumerConfig(vars(consumer)).webhookDelaysS).toHaveLength(retries!);
    expect(DEFAULT_RETRY_DELAYS_S).toHaveLength(retries!);
  });

  it("every retry delay the code asks Queues for is within the 12 h per-message limit, jitter included", () => {
    const delays = parseConsumerConfig(vars(consumer)).webhookDelaysS;
    const webhook = queueConsumer("webhooks").max_retries!;
    const jobs = queueConsumer("jobs").max_retries!;
    const asked: number[] = [];
    for (let attempt = 1; attempt <= webhook + 1; attempt++) {
      for (const r of [0, 0.5, 0.999999, 1]) {
        asked.push(webhookRetryDelay(delays, attempt, () => r));
        asked.push(webhookRetryDelay(DEFAULT_RETRY_DELAYS_S, attempt, () => r));
      }
    }
    for (let attempt = 1; attempt <= Math.max(jobs, webhook) + 1; attempt++) {
      asked.push(queueDoublingS(attempt, INPUT_RETRY.baseS, INPUT_RETRY.maxS));
      asked.push(queueDoublingS(attempt, FAILED_MESSAGE_RETRY.baseS, FAILED_MESSAGE_RETRY.maxS));
    }
    for (const c of (consumer.queues?.consumers ?? []) as QueueConsumer[])
      if (c.retry_delay !== undefined) asked.push(c.retry_delay);
    for (const s of asked) {
      expect(Number.isInteger(s)).toBe(true);
      expect(s).toBeGreaterThanOrEqual(1);
      expect(s).toBeLessThanOrEqual(QUEUE_MAX_DELAY_S);
    }
  });
});
