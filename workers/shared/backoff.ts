/**
 * Every retry delay of the workers (and the runner) comes from one of these named strategies: pure, tested
 * beside them (backoff.test.ts), clamped to the platform's limits. `attempt` is 1-based everywhere: the
 * delay before the first retry is attempt 1.
 *
 *   equalJitter  exponential, uniform in [ceiling/2, ceiling]       runner, job outbox send failures, LLM upstreams
 *   doubling     exponential without jitter                          job outbox re-sends (dispatch, webhook),
 *                                                                    runner: polling /history for a finished prompt
 *   queueDoubling  doubling in whole seconds, within the Queues limit  consumer: failed messages, input fetches
 *   schedule     one delay per retry from a table, +-jitter, within the Queues limit   webhook deliveries
 */

/** Cloudflare Queues: the longest delay of one message (`retry({delaySeconds})` or a delayed send), 12 h. */
export const QUEUE_MAX_DELAY_S = 43_200;

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Random source in [0, 1); defaults to Math.random. */
  random?: () => number;
}

/** The exponential ceiling before retry `attempt`: base * 2^(attempt-1), at most `maxMs`. */
export function doublingMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

/** Equal jitter: uniform in [ceiling/2, ceiling] (ceiling from `doublingMs`), rounded to whole ms. */
export function equalJitterMs(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const ceiling = doublingMs(attempt, options.baseMs, options.maxMs);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The runner's name for `equalJitterMs` (kept: runner/** imports it). */
export const backoffMs = equalJitterMs;

/** A queue message's retry delay in whole seconds: doubling from `baseS`, at most `maxS` and the Queues limit. */
export function queueDoublingS(attempt: number, baseS: number, maxS: number): number {
  const seconds = doublingMs(Math.max(1, attempt), baseS, Math.min(maxS, QUEUE_MAX_DELAY_S));
  return clampQueueDelayS(seconds);
}

/** Any delay in seconds made fit for Queues: a whole number in [1, QUEUE_MAX_DELAY_S]. */
export function clampQueueDelayS(seconds: number): number {
  return Math.min(QUEUE_MAX_DELAY_S, Math.max(1, Math.ceil(seconds)));
}

export interface ScheduleOptions {
  /** Fraction of the delay added or taken at random (0.2: +-20%). */
  jitter: number;
  random?: () => number;
}

/**
 * Delay in seconds before retry `attempt` from a table of one delay per retry (the last one repeats), with
 * +-`jitter`, made fit for Queues (at least 1 s, at most 12 h even when the jitter would go past it).
 */
export function scheduleDelayS(table: readonly number[], attempt: number, options: ScheduleOptions): number {
  const random = options.random ?? Math.random;
  const base = table[Math.min(Math.max(1, attempt), table.length) - 1] ?? 60;
  const jittered = base * (1 - options.jitter + 2 * options.jitter * random());
  return Math.min(QUEUE_MAX_DELAY_S, Math.max(1, Math.round(jittered)));
}

/** The longest delay `scheduleDelayS` can return for `table` before the clamp (what the table asks for). */
export function scheduleCeilingS(table: readonly number[], jitter: number): number {
  return Math.max(1, ...table.map((s) => Math.round(s * (1 + jitter))));
}
