/** Queue-wait estimate of a pool (pure): from live slots, running jobs and recent run times. */

/** Run time assumed before the pool has finished any job. */
export const DEFAULT_RUN_MS = 30_000;

export interface LoadFacts {
  slots: number;
  running: number;
  /** Durations of recent attempts (ms). */
  recentRunMs: number[];
}

export function typicalRunMs(recent: number[]): number {
  if (recent.length === 0) return DEFAULT_RUN_MS;
  const sorted = [...recent].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Estimated ms until the job at 1-based queue `position` starts; null when no runner is live (nobody
 * knows). Jobs ahead fill free slots first; the rest start as running jobs finish, `slots` at a time.
 */
export function estimateWaitMs(position: number, facts: LoadFacts): number | null {
  if (facts.slots <= 0) return null;
  const free = Math.max(0, facts.slots - facts.running);
  if (position <= free) return 0;
  const ahead = position - free;
  return Math.ceil(ahead / facts.slots) * typicalRunMs(facts.recentRunMs);
}
