/**
 * The consumer's settings (workers/queue-consumer/wrangler.toml [vars]), zod-parsed once per `env`
 * (shared/config.ts): a bad value fails with the variable's name; the message is retried (nothing is lost)
 * and the log line says what to fix. The constants below are checked against both wrangler.toml files by
 * test/config/wrangler-invariants.test.ts.
 */

import { QUEUE_MAX_DELAY_S } from "@comfy-edge/shared/backoff";
import { memoPerEnv, parseVars, wholeNumber, wholeNumberList } from "@comfy-edge/shared/config";
import { z } from "zod";

/** max_retries of the "jobs" consumer in wrangler.toml (attempts = retries + 1). */
export const JOBS_MAX_RETRIES = 5;
export const JOBS_MAX_ATTEMPTS = JOBS_MAX_RETRIES + 1;
/** Transient input-fetch failures: retried after 2, 4, 8 ... s, at most this long. */
export const INPUT_RETRY = { baseS: 2, maxS: 300 };
/** A message whose handler threw: retried after 2, 4, 8 ... s, at most this long. */
export const FAILED_MESSAGE_RETRY = { baseS: 2, maxS: 60 };
/** Webhook retry delays vary by +-20% (shared/backoff.ts scheduleDelayS). */
export const WEBHOOK_JITTER = 0.2;
/** The default WEBHOOK_RETRY_DELAYS_S: 8 retries over about 24 h (max_retries of the "webhooks" consumer). */
export const DEFAULT_RETRY_DELAYS_S = [30, 120, 600, 1800, 3600, 10800, 21600, 43200];

const ConsumerVars = z.object({
  MAX_INPUT_BYTES: wholeNumber("bytes", 50 * 1024 * 1024),
  WEBHOOK_RETRY_DELAYS_S: wholeNumberList("seconds", DEFAULT_RETRY_DELAYS_S, { min: 0, max: QUEUE_MAX_DELAY_S }),
});

export interface ConsumerConfig {
  /** Largest input image fetched at the edge. */
  maxInputBytes: number;
  /** One delay per webhook retry; their count is the number of retries. */
  webhookDelaysS: number[];
}

export function parseConsumerConfig(env: object): ConsumerConfig {
  const v = parseVars(ConsumerVars, env);
  return { maxInputBytes: v.MAX_INPUT_BYTES, webhookDelaysS: v.WEBHOOK_RETRY_DELAYS_S };
}

/** The parsed config of this `env` (memoised per env object); throws ConfigError. */
export const consumerConfig: (env: object) => ConsumerConfig = memoPerEnv(parseConsumerConfig);
