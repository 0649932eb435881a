/**
 * The isolate's request counts not yet written to D1: per-minute buckets keyed by (minute, route, method,
 * tenant), each with status-class counts and a latency histogram. No I/O here: the middleware records into
 * it, the flush (flush.ts) takes what is pending and writes it.
 *
 * This is the "aggregation in the isolate, flushed in the background": one aggregator per app
 * instance, created by the middleware factory (middleware.ts; the worker builds its app once per isolate),
 * so a request adds to memory only and never waits on storage. Not module state: a second app (a test's)
 * has its own.
 */
import { addSample, type Histogram, mergeInto } from "./histogram.ts";

export interface Sample {
  /** Start of the request, unix ms. */
  at: number;
  route: string;
  method: string;
  /** The API key's tenant, or a caller label without one (classify.ts callerKey). */
  tenantId: string;
  status: number;
  /** The answer is the route's normal protocol outcome (classify.ts isExpectedOutcome). */
  expected?: boolean;
  latencyMs: number;
}

export interface Bucket {
  minute: number;
  route: string;
  method: string;
  tenantId: string;
  requests: number;
  /** Counts of 2xx, 3xx, 4xx, 5xx (1xx and others count as 2xx/5xx by range). */
  status: [number, number, number, number];
  /** Answers that are the route's normal outcome although 4xx (also counted in `status`). */
  expected: number;
  latencyMsSum: number;
  hist: Histogram;
}

/**
 * Most distinct buckets held at once; past it new keys are dropped (and counted) until the next flush. Keeps a
 * flush within 250 statements (8 rows each), well under D1's per-invocation query limit.
 */
export const MAX_PENDING_BUCKETS = 2000;
/** A request flushes the isolate's counts when the last flush is at least this old (flush.ts). */
export const FLUSH_INTERVAL_MS = 10_000;

function statusIndex(status: number): 0 | 1 | 2 | 3 {
  if (status >= 500) return 3;
  if (status >= 400) return 2;
  if (status >= 300) return 1;
  return 0;
}

export class StatsAggregator {
  private pending = new Map<string, Bucket>();
  /** Unix ms of the last flush start (0: none yet). */
  lastFlushAt = 0;
  /** The flush under way (a request's waitUntil or the cron's), if any: one at a time. */
  flushing: Promise<void> | null = null;
  /** Unix ms of the last prune of old rows (0: none yet). */
  lastPruneAt = 0;
  /** Samples dropped because MAX_PENDING_BUCKETS was reached (reported in the flush's log line). */
  dropped = 0;

  record(s: Sample): void {
    const minute = Math.floor(s.at / 60_000);
    const key = `${minute}\u0000${s.method}\u0000${s.route}\u0000${s.tenantId}`;
    let b = this.pending.get(key);
    if (!b) {
      if (this.pending.size >= MAX_PENDING_BUCKETS) {
        this.dropped++;
        return;
      }
      b = {
        minute,
        route: s.route,
        method: s.method,
        tenantId: s.tenantId,
        requests: 0,
        status: [0, 0, 0, 0],
        expected: 0,
        latencyMsSum: 0,
        hist: new Map(),
      };
      this.pending.set(key, b);
    }
    b.requests++;
    b.status[statusIndex(s.status)]++;
    if (s.expected) b.expected++;
    b.latencyMsSum += s.latencyMs;
    addSample(b.hist, s.latencyMs);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Everything pending, leaving the aggregator empty (the caller writes it). */
  take(): Bucket[] {
    const out = [...this.pending.values()];
    this.pending = new Map();
    return out;
  }

  /** Puts back buckets a failed write could not store (merged with what came since). */
  restore(buckets: Bucket[]): void {
    for (const b of buckets) {
      const key = `${b.minute}\u0000${b.method}\u0000${b.route}\u0000${b.tenantId}`;
      const open = this.pending.get(key);
      if (!open) {
        if (this.pending.size < MAX_PENDING_BUCKETS) this.pending.set(key, b);
        else this.dropped += b.requests;
        continue;
      }
      open.requests += b.requests;
      for (let i = 0; i < 4; i++) open.status[i] = (open.status[i] ?? 0) + (b.status[i] ?? 0);
      open.expected += b.expected;
      open.latencyMsSum += b.latencyMsSum;
      mergeInto(open.hist, b.hist);
    }
  }
}
