/**
 * From grouped D1 rows to the figures of GET /admin/v1/stats (pure): requests per second, p50/p95 from the
 * merged latency histograms, error rates. query.ts reads the rows; this module only adds them up.
 */
import type { RequestFigures } from "@comfy-edge/shared/contract/stats";
import { COUNT_COLUMNS } from "./columns.ts";
import { addCount, type Histogram, mergeInto, percentile } from "./histogram.ts";

export interface Counts {
  requests: number;
  status_2xx: number;
  status_3xx: number;
  status_4xx: number;
  status_5xx: number;
  status_expected: number;
  latency_ms_sum: number;
}

export interface Group {
  counts: Counts;
  hist: Histogram;
}

/** A row of a grouped count query: the group's key columns and the summed counts. */
export type CountRow = Partial<Counts> & Record<string, unknown>;
/** A row of a grouped histogram query: the group's key columns, bucket `b` and its count `n`. */
export type HistRow = { b: unknown; n: unknown } & Record<string, unknown>;

export function emptyGroup(): Group {
  return {
    counts: {
      requests: 0,
      status_2xx: 0,
      status_3xx: 0,
      status_4xx: 0,
      status_5xx: 0,
      status_expected: 0,
      latency_ms_sum: 0,
    },
    hist: new Map(),
  };
}

export function mergeGroup(into: Group, from: Group): Group {
  for (const f of COUNT_COLUMNS) into.counts[f] += from.counts[f];
  mergeInto(into.hist, from.hist);
  return into;
}

/** Groups count and histogram rows by `key(row)`, in the order keys first appear in `counts`. */
export function groupRows(counts: CountRow[], hists: HistRow[], key: (row: Record<string, unknown>) => string) {
  const groups = new Map<string, Group>();
  const at = (k: string) => {
    let g = groups.get(k);
    if (!g) {
      g = emptyGroup();
      groups.set(k, g);
    }
    return g;
  };
  for (const row of counts) {
    const g = at(key(row));
    for (const f of COUNT_COLUMNS) g.counts[f] += Number(row[f] ?? 0);
  }
  for (const row of hists) addCount(at(key(row)).hist, Number(row.b), Number(row.n));
  return groups;
}

const round = (v: number | null, digits = 2) => (v === null ? null : Number(v.toFixed(digits)));
/** 4xx answers that are errors (the expected ones are the protocol's normal outcome). */
const clientErrors = (c: Counts) => Math.max(0, c.status_4xx - c.status_expected);

export function figures(g: Group, windowS: number): RequestFigures {
  const n = g.counts.requests;
  return {
    requests: n,
    rps: round(n / windowS, 4) ?? 0,
    p50_ms: round(percentile(g.hist, 0.5)),
    p95_ms: round(percentile(g.hist, 0.95)),
    mean_ms: n > 0 ? round(g.counts.latency_ms_sum / n) : null,
    error_rate: n > 0 ? (round(g.counts.status_5xx / n, 4) ?? 0) : 0,
    client_error_rate: n > 0 ? (round(clientErrors(g.counts) / n, 4) ?? 0) : 0,
    expected: g.counts.status_expected,
    status: {
      "2xx": g.counts.status_2xx,
      "3xx": g.counts.status_3xx,
      "4xx": g.counts.status_4xx,
      "5xx": g.counts.status_5xx,
    },
  };
}

export interface Span {
  fromMinute: number;
  toMinute: number;
  stepMinutes: number;
  windowS: number;
}

/** The minutes a window covers, ending with the current (partial) minute. */
export function span(window: "1h" | "24h", now: number): Span {
  const toMinute = Math.floor(now / 60_000);
  return window === "1h"
    ? { fromMinute: toMinute - 59, toMinute, stepMinutes: 1, windowS: 3600 }
    : { fromMinute: toMinute - 1439, toMinute, stepMinutes: 15, windowS: 86_400 };
}

/** One point per step over the span (zeros where nothing was recorded); `slot` = (minute - from) / step. */
export function series(s: Span, groups: Map<string, Group>) {
  const points = [];
  const slots = Math.floor((s.toMinute - s.fromMinute) / s.stepMinutes) + 1;
  for (let slot = 0; slot < slots; slot++) {
    const g = groups.get(String(slot)) ?? emptyGroup();
    points.push({
      t: new Date((s.fromMinute + slot * s.stepMinutes) * 60_000).toISOString(),
      requests: g.counts.requests,
      client_errors: clientErrors(g.counts),
      errors: g.counts.status_5xx,
      p50_ms: round(percentile(g.hist, 0.5)),
      p95_ms: round(percentile(g.hist, 0.95)),
    });
  }
  return points;
}
