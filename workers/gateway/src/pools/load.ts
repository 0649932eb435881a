/**
 * Load facts of a pool from its Durable Object's SQLite (queued, running, live runners and their slots,
 * recent run times): the wait estimate, a queued job's place, and the metrics for autoscalers.
 */
import { estimateWaitMs, type LoadFacts, typicalRunMs } from "./estimate.ts";

const RECENT_RUNS = 50;

export interface PoolMetrics {
  queued: number;
  running: number;
  live_runners: number;
  /** Runners waiting on a long-poll lease right now (idle capacity). */
  waiting_runners: number;
  slots: number;
  free_slots: number;
  oldest_queued_age_s: number;
  /** Estimated wait of a job submitted now (null: no live runner). */
  estimated_wait_s: number | null;
  /** Median of the recent attempt durations (the estimate's run time; shards are summed with it). */
  typical_run_ms: number;
}

export function initLoadTables(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS run_times (id INTEGER PRIMARY KEY AUTOINCREMENT, ms INTEGER NOT NULL)");
}

/** An attempt ran `ms`: keep the last RECENT_RUNS. */
export function recordRun(sql: SqlStorage, ms: number): void {
  sql.exec("INSERT INTO run_times (ms) VALUES (?)", Math.max(0, Math.round(ms)));
  sql.exec("DELETE FROM run_times WHERE id <= (SELECT MAX(id) FROM run_times) - ?", RECENT_RUNS);
}

export function loadFacts(sql: SqlStorage, now: number, liveMs: number): LoadFacts & { runners: number } {
  const live = sql
    .exec<{ n: number; slots: number | null }>(
      "SELECT COUNT(*) AS n, SUM(slots) AS slots FROM runners_seen WHERE last_seen > ?",
      now - liveMs,
    )
    .one();
  return {
    runners: live.n,
    slots: live.slots ?? 0,
    running: sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM running").one().n,
    recentRunMs: sql
      .exec<{ ms: number }>("SELECT ms FROM run_times")
      .toArray()
      .map((r) => r.ms),
  };
}

/**
 * One shard of a pool with `shards` shards sees about 1/shards of the queue and of the running jobs, while
 * the live runners (who lease from every shard) serve them all: its estimates scale its counts up.
 */
function scaled(facts: LoadFacts, shards: number): LoadFacts {
  return shards <= 1 ? facts : { ...facts, running: facts.running * shards };
}

export function poolMetrics(sql: SqlStorage, now: number, liveMs: number, waiting: number, shards = 1): PoolMetrics {
  const facts = loadFacts(sql, now, liveMs);
  const q = sql
    .exec<{ n: number; oldest: number | null }>("SELECT COUNT(*) AS n, MIN(enqueued_at) AS oldest FROM queued")
    .one();
  const wait = estimateWaitMs(q.n * Math.max(1, shards) + 1, scaled(facts, shards));
  return {
    queued: q.n,
    running: facts.running,
    live_runners: facts.runners,
    waiting_runners: waiting,
    slots: facts.slots,
    free_slots: Math.max(0, facts.slots - facts.running),
    oldest_queued_age_s: q.oldest === null ? 0 : Math.max(0, (now - q.oldest) / 1000),
    estimated_wait_s: wait === null ? null : wait / 1000,
    typical_run_ms: typicalRunMs(facts.recentRunMs),
  };
}

/**
 * 1-based place of a queued job (by enqueue time) and its estimated start, or null if not queued here. In a
 * pool of `shards` shards: its place in its shard times `shards` (an estimate; docs/capabilities.md §7).
 */
export function queuePlace(
  sql: SqlStorage,
  jobId: string,
  now: number,
  liveMs: number,
  shards = 1,
): { position: number; estimated_start_at: number | null } | null {
  const row = sql.exec<{ enqueued_at: number }>("SELECT enqueued_at FROM queued WHERE job_id = ?", jobId).toArray()[0];
  if (!row) return null;
  const inShard =
    sql
      .exec<{ n: number }>(
        "SELECT COUNT(*) AS n FROM queued WHERE enqueued_at < ? OR (enqueued_at = ? AND job_id < ?)",
        row.enqueued_at,
        row.enqueued_at,
        jobId,
      )
      .one().n + 1;
  const position = shards <= 1 ? inShard : (inShard - 1) * shards + 1;
  const wait = estimateWaitMs(position, scaled(loadFacts(sql, now, liveMs), shards));
  return { position, estimated_start_at: wait === null ? null : now + wait };
}
