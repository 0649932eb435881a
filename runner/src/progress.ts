/**
 * Progress throttling (pure): at most one report per `intervalMs` (2 per second by default), always ending
 * with the latest value. `offer` answers whether to send now; otherwise the value is kept and `due` says
 * when the kept value should go out.
 */
export interface ProgressValue {
  value: number;
  max: number;
  node_id: string | null;
}

export class ProgressThrottle {
  private readonly intervalMs: number;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private pending: ProgressValue | null = null;
  private last: ProgressValue | null = null;

  constructor(intervalMs = 500) {
    this.intervalMs = intervalMs;
  }

  /** The value to send now, or null (kept for later, or the same as the last one sent). */
  offer(progress: ProgressValue, now: number): ProgressValue | null {
    if (
      this.last &&
      this.last.value === progress.value &&
      this.last.max === progress.max &&
      this.last.node_id === progress.node_id
    ) {
      this.pending = null;
      return null;
    }
    if (now - this.lastSentAt >= this.intervalMs) {
      this.pending = null;
      this.lastSentAt = now;
      this.last = progress;
      return progress;
    }
    this.pending = progress;
    return null;
  }

  /** When the kept value may be sent (ms timestamp), or null if nothing is kept. */
  due(): number | null {
    return this.pending ? this.lastSentAt + this.intervalMs : null;
  }

  /** Takes the kept value if its time has come. */
  flush(now: number): ProgressValue | null {
    if (!this.pending || now - this.lastSentAt < this.intervalMs) return null;
    const p = this.pending;
    this.pending = null;
    this.lastSentAt = now;
    this.last = p;
    return p;
  }

  /** Drops the kept value (the job is ending). */
  clear(): void {
    this.pending = null;
  }
}
