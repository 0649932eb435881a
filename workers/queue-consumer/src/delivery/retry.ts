/** Webhook retry schedule: WEBHOOK_RETRY_DELAYS_S, one delay per retry, with +-20% jitter. */

export const DEFAULT_RETRY_DELAYS_S = [30, 120, 600, 1800, 3600, 10800, 21600, 43200];

/** Parses the comma-separated delays (seconds); its length is the number of retries after the first attempt. */
export function retryDelays(raw: string | undefined): number[] {
  const parsed = (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number)
    .filter((n) => Number.isFinite(n) && n >= 0);
  return parsed.length > 0 ? parsed : DEFAULT_RETRY_DELAYS_S;
}

/** Delay before retry number `attempt` (1-based) with +-20% jitter, at least 1 s. */
export function webhookRetryDelay(delays: number[], attempt: number, random: () => number = Math.random): number {
  const base = delays[Math.min(attempt, delays.length) - 1] ?? 60;
  return Math.max(1, Math.round(base * (0.8 + 0.4 * random())));
}

/** Attempt `attempt` (1-based) was the last one the schedule allows. */
export function isLastAttempt(delays: number[], attempt: number): boolean {
  return attempt > delays.length;
}
