/** Webhook retry schedule: WEBHOOK_RETRY_DELAYS_S (config.ts), one delay per retry, with +-20% jitter. */
import { scheduleDelayS } from "@comfy-edge/shared/backoff";
import { WEBHOOK_JITTER } from "../config.ts";

/** Delay before retry number `attempt` (1-based) with +-20% jitter, within [1 s, 12 h] (the Queues limit). */
export function webhookRetryDelay(delays: number[], attempt: number, random?: () => number): number {
  return scheduleDelayS(delays, attempt, { jitter: WEBHOOK_JITTER, random });
}

/** Attempt `attempt` (1-based) was the last one the schedule allows. */
export function isLastAttempt(delays: number[], attempt: number): boolean {
  return attempt > delays.length;
}
