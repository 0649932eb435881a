/**
 * Writes an isolate's pending request counts to D1 `request_stats` (migrations 0012, 0016): one batch of
 * upserts that add the counts to what other isolates wrote for the same minute, route, method and tenant,
 * merging the latency histograms in SQL. Runs in the background (a request's waitUntil, at once, or the cron),
 * never on the answer's path and never behind a timer.
 * Rows older than RETENTION_MS are deleted by a flush at most once per PRUNE_EVERY_MS per isolate.
 */
import { log } from "@comfy-edge/shared/log";
import { type Bucket, FLUSH_INTERVAL_MS, type StatsAggregator } from "./aggregator.ts";
import { COUNT_COLUMNS } from "./columns.ts";
import { toJson } from "./histogram.ts";

export const RETENTION_MS = 2 * 24 * 3600 * 1000;
export const PRUNE_EVERY_MS = 3600 * 1000;

const COLUMNS = ["minute", "route", "method", "tenant_id", ...COUNT_COLUMNS, "latency_hist"] as const;
/** D1 binds at most 100 parameters per statement. */
const ROWS_PER_STATEMENT = Math.floor(100 / COLUMNS.length);

const UPSERT_TAIL = `ON CONFLICT (minute, route, method, tenant_id) DO UPDATE SET
  ${COUNT_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(",\n  ")},
  latency_hist = (SELECT json_group_object(k, n) FROM (SELECT k, SUM(v) AS n FROM (
    SELECT key AS k, value AS v FROM json_each(request_stats.latency_hist)
    UNION ALL SELECT key, value FROM json_each(excluded.latency_hist)) GROUP BY k))`;

function values(b: Bucket): Array<string | number> {
  return [b.minute, b.route, b.method, b.tenantId, b.requests, ...b.status, b.expected, b.latencyMsSum, toJson(b.hist)];
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

/** Runs `flushStats` as the isolate's one flush under way (after the one already under way, if any). */
function track(db: D1Database, stats: StatsAggregator, requestId: string): Promise<void> {
  const before = stats.flushing;
  const run = (async () => {
    if (before) await before;
    await flushStats(db, stats, Date.now(), requestId);
  })();
  stats.flushing = run;
  void run.finally(() => {
    if (stats.flushing === run) stats.flushing = null;
  });
  return run;
}

/**
 * Called by the middleware after each measured request: when the last flush is FLUSH_INTERVAL_MS old or more
 * and none is under way, starts one now in this request's waitUntil. Never waits for a timer, so the
 * request's execution context ends as soon as the D1 batch does (one batch per isolate per 10 s at most).
 * Counts of an isolate that then goes quiet are written by the next request, a stats read or the cron
 * (flushOnCron).
 */
export function flushIfDue(
  db: D1Database,
  stats: StatsAggregator,
  waitUntil: (p: Promise<unknown>) => void,
  requestId: string,
  now = Date.now(),
): boolean {
  if (stats.flushing !== null || stats.size === 0 || now - stats.lastFlushAt < FLUSH_INTERVAL_MS) return false;
  waitUntil(track(db, stats, requestId));
  return true;
}

/** Writes everything pending now (after a flush already under way): stats reads and the cron. */
export function flushPending(db: D1Database, stats: StatsAggregator, requestId: string): Promise<void> {
  return track(db, stats, requestId);
}

/**
 * The worker's `scheduled` handler (wrangler.toml `[triggers] crons`, every minute): flushes the counts the
 * isolate it runs in holds, so a quiet isolate's last requests reach D1 within a minute without a request.
 */
export function flushOnCron(stats: StatsAggregator): ExportedHandlerScheduledHandler<Env> {
  // The handler's own promise: the runtime keeps the invocation until the D1 batch is done.
  return (controller, env) => flushPending(env.DB, stats, `cron_${controller.scheduledTime}`);
}
