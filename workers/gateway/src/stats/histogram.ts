/**
 * Latency histograms with fixed log-scale buckets (pure). Every isolate and every minute uses the same
 * buckets, so histograms merge by adding counts, and percentiles of any window, route or tenant come from
 * the merged counts.
 *
 * Bucket 0 holds latencies under 1 ms; bucket i >= 1 holds [2^((i-1)/4), 2^(i/4)) ms (four buckets per
 * doubling: a bucket is about 19 % wide); the last bucket also holds everything above (about 14.7 min).
 */

export const BUCKETS_PER_DOUBLING = 4;
export const BUCKET_COUNT = 80;

/** Sparse counts per bucket index. */
export type Histogram = Map<number, number>;

export function bucketOf(ms: number): number {
  if (!(ms >= 1)) return 0;
  const i = Math.floor(Math.log2(ms) * BUCKETS_PER_DOUBLING) + 1;
  return Math.min(i, BUCKET_COUNT - 1);
}

/** [lower, upper) of a bucket in ms. */
export function bucketBounds(index: number): [number, number] {
  if (index <= 0) return [0, 1];
  return [2 ** ((index - 1) / BUCKETS_PER_DOUBLING), 2 ** (index / BUCKETS_PER_DOUBLING)];
}

export function addSample(h: Histogram, ms: number): void {
  const b = bucketOf(ms);
  h.set(b, (h.get(b) ?? 0) + 1);
}

/** Adds `count` to bucket `index` (indexes outside the scale are clamped into it). */
export function addCount(h: Histogram, index: number, count: number): void {
  if (!Number.isFinite(count) || count <= 0) return;
  const b = Math.max(0, Math.min(BUCKET_COUNT - 1, Math.trunc(index)));
  h.set(b, (h.get(b) ?? 0) + count);
}

/** `into` += `from`. */
export function mergeInto(into: Histogram, from: Histogram): Histogram {
  for (const [b, n] of from) addCount(into, b, n);
  return into;
}

export function total(h: Histogram): number {
  let n = 0;
  for (const c of h.values()) n += c;
  return n;
}

/**
 * The q-quantile (0 < q <= 1) in ms, or null for an empty histogram: the bucket holding the sample of
 * nearest rank ceil(q * n), interpolated linearly inside it by rank (as Prometheus' histogram_quantile).
 * The answer always lies in the bucket of the exact nearest-rank percentile.
 */
export function percentile(h: Histogram, q: number): number | null {
  const n = total(h);
  if (n === 0) return null;
  const rank = Math.max(1, Math.ceil(q * n));
  let seen = 0;
  for (const b of [...h.keys()].sort((x, y) => x - y)) {
    const count = h.get(b) ?? 0;
    if (seen + count >= rank) {
      const [lo, hi] = bucketBounds(b);
      return lo + (hi - lo) * ((rank - seen) / count);
    }
    seen += count;
  }
  return null;
}

/** JSON text of the D1 column: {"index": count}. */
export function toJson(h: Histogram): string {
  return JSON.stringify(Object.fromEntries(h));
}
