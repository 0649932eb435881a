/** Exponential backoff with full jitter: pure, so it is tested directly. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Random source in [0, 1); defaults to Math.random. */
  random?: () => number;
}

/** Delay before retry number `attempt` (1-based): uniform in [base*2^(attempt-1)/2, base*2^(attempt-1)], capped. */
export function backoffMs(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
