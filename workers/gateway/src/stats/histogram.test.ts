import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addSample,
  BUCKET_COUNT,
  bucketBounds,
  bucketOf,
  type Histogram,
  mergeInto,
  percentile,
  total,
} from "./histogram.ts";
import { emptyGroup, figures, groupRows, series, span } from "./report.ts";

const latency = fc.double({ min: 0, max: 2_000_000, noNaN: true });

function histOf(values: number[]): Histogram {
  const h: Histogram = new Map();
  for (const v of values) addSample(h, v);
  return h;
}

/** The exact nearest-rank percentile of `values`. */
function exact(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

describe("latency histogram", () => {
  it("puts each latency in the bucket whose bounds hold it", () => {
    fc.assert(
      fc.property(latency, (ms) => {
        const b = bucketOf(ms);
        const [lo, hi] = bucketBounds(b);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThan(BUCKET_COUNT);
        expect(ms).toBeGreaterThanOrEqual(lo);
        if (b < BUCKET_COUNT - 1) expect(ms).toBeLessThan(hi);
      }),
    );
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(0.9)).toBe(0);
    expect(bucketOf(1)).toBe(1);
    expect(bucketOf(2)).toBe(5);
    expect(bucketOf(1e12)).toBe(BUCKET_COUNT - 1);
  });

  it("gives a percentile inside the bucket of the exact nearest-rank percentile (at most ~19 % off)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 100_000, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.constantFrom(0.5, 0.95, 0.99),
        (values, q) => {
          const want = exact(values, q);
          const [lo, hi] = bucketBounds(bucketOf(want));
          const got = percentile(histOf(values), q);
          expect(got).not.toBeNull();
          expect(got!).toBeGreaterThanOrEqual(lo);
          expect(got!).toBeLessThanOrEqual(hi);
        },
      ),
    );
  });

  it("merges by adding counts: the merge of parts equals the histogram of the whole, in any order", () => {
    fc.assert(
      fc.property(fc.array(latency, { maxLength: 100 }), fc.array(latency, { maxLength: 100 }), (xs, ys) => {
        const whole = histOf([...xs, ...ys]);
        const ab = mergeInto(histOf(xs), histOf(ys));
        const ba = mergeInto(histOf(ys), histOf(xs));
        expect(new Map([...ab].sort())).toEqual(new Map([...whole].sort()));
        expect(new Map([...ba].sort())).toEqual(new Map([...whole].sort()));
        expect(total(ab)).toBe(xs.length + ys.length);
      }),
    );
  });

  it("has no percentile when empty", () => {
    expect(percentile(new Map(), 0.5)).toBeNull();
  });

  it("finds p50 and p95 of a known distribution", () => {
    // 90 fast requests (~10 ms) and 10 slow ones (~500 ms): p50 near 10 ms, p95 near 500 ms.
    const values = [...Array(90).fill(10), ...Array(10).fill(500)];
    const h = histOf(values);
    expect(percentile(h, 0.5)).toBeGreaterThan(9);
    expect(percentile(h, 0.5)).toBeLessThan(12);
    expect(percentile(h, 0.95)).toBeGreaterThan(430);
    expect(percentile(h, 0.95)).toBeLessThan(600);
  });
});

describe("stats report", () => {
  it("adds grouped rows into figures: rate per second, percentiles and error rates", () => {
    const groups = groupRows(
      [
        { route: "/a", requests: 8, status_2xx: 6, status_4xx: 1, status_5xx: 1, latency_ms_sum: 80 },
        { route: "/a", requests: 2, status_2xx: 2, latency_ms_sum: 20 },
      ],
      [
        { route: "/a", b: bucketOf(10), n: 9 },
        { route: "/a", b: bucketOf(700), n: 1 },
      ],
      (r) => String(r.route),
    );
    const f = figures(groups.get("/a") ?? emptyGroup(), 3600);
    expect(f).toMatchObject({ requests: 10, mean_ms: 10, error_rate: 0.1, client_error_rate: 0.1 });
    expect(f.rps).toBeCloseTo(10 / 3600, 4);
    expect(f.status).toEqual({ "2xx": 8, "3xx": 0, "4xx": 1, "5xx": 1 });
    expect(f.p50_ms).toBeGreaterThan(9);
    expect(f.p50_ms).toBeLessThan(12);
    expect(f.p95_ms).toBeGreaterThan(580);
  });

  it("has one series point per step of the window, zeros where nothing was recorded", () => {
    const now = Date.parse("2026-12-05T10:30:20Z");
    const hour = span("1h", now);
    const points = series(
      hour,
      groupRows([{ slot: 59, requests: 4, status_5xx: 1 }], [], (r) => String(r.slot)),
    );
    expect(points).toHaveLength(60);
    expect(points[0]?.t).toBe("2026-12-05T09:31:00.000Z");
    expect(points.at(-1)).toMatchObject({ t: "2026-12-05T10:30:00.000Z", requests: 4, errors: 1, p95_ms: null });
    expect(points.slice(0, 59).every((p) => p.requests === 0)).toBe(true);
    const day = span("24h", now);
    expect(series(day, new Map())).toHaveLength(96);
  });
});
