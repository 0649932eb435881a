/**
 * Writes an isolate's pending request counts to D1 `request_stats` (migration 0012): one batch of upserts
 * that add the counts to what other isolates wrote for the same minute, route, method and tenant, merging
 * the latency histograms in SQL. Runs in the background (a request's waitUntil), never on the answer's path.
 * Rows older than RETENTION_MS are deleted by a flush at most once per PRUNE_EVERY_MS per isolate.
 */
import { log } from "@comfy-edge/shared/log";
import { type Bucket, FLUSH_INTERVAL_MS, type StatsAggregator } from "./aggregator.ts";
import { toJson } from "./histogram.ts";

export const RETENTION_MS = 2 * 24 * 3600 * 1000;
export const PRUNE_EVERY_MS = 3600 * 1000;
/** waitUntil work ends at most 30 s after the answer: a flush not run by then never will be. */
const LOST_FLUSH_MS = 60_000;

const COLUMNS = [
  "minute",
  "route",
  "method",
  "tenant_id",
  "requests",
  "status_2xx",
  "status_3xx",
  "status_4xx",
  "status_5xx",
  "latency_ms_sum",
  "latency_hist",
] as const;
/** D1 binds at most 100 parameters per statement. */
const ROWS_PER_STATEMENT = Math.floor(100 / COLUMNS.length);

const UPSERT_TAIL = `ON CONFLICT (minute, route, method, tenant_id) DO UPDATE SET
  requests = requests + excluded.requests,
  status_2xx = status_2xx + excluded.status_2xx,
  status_3xx = status_3xx + excluded.status_3xx,
  status_4xx = status_4xx + excluded.status_4xx,
  status_5xx = status_5xx + excluded.status_5xx,
  latency_ms_sum = latency_ms_sum + excluded.latency_ms_sum,
  latency_hist = (SELECT json_group_object(k, n) FROM (SELECT k, SUM(v) AS n FROM (
    SELECT key AS k, value AS v FROM json_each(request_stats.latency_hist)
    UNION ALL SELECT key, value FROM json_each(excluded.latency_hist)) GROUP BY k))`;

function values(b: Bucket): Array<string | number> {
  return [b.minute, b.route, b.method, b.tenantId, b.requests, ...b.status, b.latencyMsSum, toJson(b.hist)];
}

/** The statements that add `buckets` to the table (pure apart from preparing them). */
export function upsertStatements(db: D1Database, buckets: Bucket[]): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [];
  for (let i = 0; i < buckets.length; i += ROWS_PER_STATEMENT) {
    const chunk = buckets.slice(i, i + ROWS_PER_STATEMENT);
    const row = `(${COLUMNS.map(() => "?").join(", ")})`;
    const sql = `INSERT INTO request_stats (${COLUMNS.join(", ")}) VALUES ${chunk.map(() => row).join(", ")} ${UPSERT_TAIL}`;
    out.push(db.prepare(sql).bind(...chunk.flatMap(values)));
  }
  return out;
}

/**
 * Writes what `stats` holds now (and prunes when due). A failed write puts the counts back for the next
 * flush and logs a warning; it never throws.
 */
export async function flushStats(db: D1Database, stats: StatsAggregator, now: number, requestId: string) {
  stats.lastFlushAt = now;
  const buckets = stats.take();
  const statements = upsertStatements(db, buckets);
  const prune = now - stats.lastPruneAt >= PRUNE_EVERY_MS;
  if (prune) {
    const oldest = Math.floor((now - RETENTION_MS) / 60_000);
    statements.push(db.prepare("DELETE FROM request_stats WHERE minute < ?").bind(oldest));
  }
  if (statements.length === 0) return;
  try {
    await db.batch(statements);
    if (prune) stats.lastPruneAt = now;
    if (stats.dropped > 0) {
      log("warn", { request_id: requestId }, "request stats: samples dropped (too many distinct routes/tenants)", {
        dropped: stats.dropped,
      });
      stats.dropped = 0;
    }
  } catch (err) {
    stats.restore(buckets);
    log("warn", { request_id: requestId }, "request stats flush failed; kept for the next flush", {
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

/**
 * Schedules this isolate's next flush in the current request's waitUntil (when none is scheduled): it runs
 * FLUSH_INTERVAL_MS after the previous one (at once if that is past), so an isolate writes at most every
 * 10 s and counts reach D1 within about 10 s even when no other request follows.
 */
export function scheduleFlush(
  db: D1Database,
  stats: StatsAggregator,
  waitUntil: (p: Promise<unknown>) => void,
  requestId: string,
): void {
  const now = Date.now();
  // A scheduled flush whose request was cut off (it never ran) is given up after LOST_FLUSH_MS.
  if (stats.flushDueAt !== null && now < stats.flushDueAt + LOST_FLUSH_MS) return;
  const dueAt = Math.max(now, stats.lastFlushAt + FLUSH_INTERVAL_MS);
  stats.flushDueAt = dueAt;
  const run = async () => {
    if (dueAt > now) await new Promise((resolve) => setTimeout(resolve, dueAt - now));
    if (stats.flushDueAt === dueAt) stats.flushDueAt = null;
    await flushStats(db, stats, Date.now(), requestId);
  };
  waitUntil(run());
}
