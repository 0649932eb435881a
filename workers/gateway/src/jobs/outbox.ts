/**
 * The job object's outbox: what the job owes other parts of the system, written in the same storage
 * transaction as the state that owes it (SQL table `outbox`, STORAGE.md). Rows are parsed on the way out
 * with a discriminated union, so a row this code cannot read is logged and dropped, never half-sent.
 */

import { doublingMs } from "@comfy-edge/shared/backoff";
import { DispatchMessage, WebhookMessage } from "@comfy-edge/shared/contract";
import { log } from "@comfy-edge/shared/log";
import { z } from "zod";
import type { JobConfig } from "./config.ts";

export const IndexRow = z.object({
  id: z.string(),
  tenant_id: z.string(),
  key_id: z.string().nullish(),
  pool: z.string(),
  status: z.string(),
  seq: z.int(),
  created_at: z.number(),
  completed_at: z.number().nullish(),
  run_ms: z.number().nullish(),
});
export type IndexRow = z.infer<typeof IndexRow>;

export const OutboxEntry = z.discriminatedUnion("kind", [
  /** Queue "jobs"; kept until a lease is granted, re-sent with backoff. */
  z.object({ kind: z.literal("dispatch"), payload: DispatchMessage }),
  /** Queue "webhooks"; kept until the consumer acknowledges the event. */
  z.object({ kind: z.literal("webhook"), payload: WebhookMessage }),
  /** The D1 index row (`jobs_index`). */
  z.object({ kind: z.literal("index"), payload: IndexRow }),
  /** The pool dispatcher forgets attempts up to `attempt`. */
  z.object({
    kind: z.literal("pool_release"),
    payload: z.object({ pool: z.string(), job_id: z.string(), attempt: z.int() }),
  }),
  /** Delete the objects of every attempt but `keep_attempt`. */
  z.object({ kind: z.literal("sweep"), payload: z.object({ keep_attempt: z.int().nullable() }) }),
  /** The tenant's queued-job counter gives back the slot this job held. */
  z.object({ kind: z.literal("slot_release"), payload: z.object({ tenant_id: z.string(), job_id: z.string() }) }),
]);
export type OutboxEntry = z.infer<typeof OutboxEntry>;
export type OutboxKind = OutboxEntry["kind"];

export interface DueRow {
  id: number;
  attempts: number;
  /** When the row was due (a report that moves it while it is being sent wins over the send). */
  next_at: number;
  entry: OutboxEntry;
}

const REDISPATCH_MAX_MS = 600_000;
const WEBHOOK_RESEND_MAX_MS = 3600_000;
/** How long after the consumer's announced retry an event is re-sent if nothing more was heard of it. */
export const WEBHOOK_PENDING_GRACE_MS = 30_000;

/**
 * After a successful send: how long until the row is sent again (it stays until acknowledged), or null
 * when the row is done. Local queues live in memory, so a restart loses what they held.
 */
export function resendDelayMs(kind: OutboxKind, attempts: number, cfg: JobConfig): number | null {
  if (kind === "dispatch") return doublingMs(attempts + 1, cfg.redispatchBaseMs, REDISPATCH_MAX_MS);
  if (kind === "webhook") return doublingMs(attempts + 1, cfg.webhookResendMs, WEBHOOK_RESEND_MAX_MS);
  return null;
}

/** The outbox table (the job object creates it with its other tables in one statement batch). */
export const OUTBOX_TABLE = `CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL)`;

/** Rows this instance remembers having written (see `written`); more and it forgets them all. */
const WRITTEN_MAX = 256;

export class Outbox {
  private readonly sql: SqlStorage;
  /**
   * `kind` and payload text of the rows this instance wrote from typed entries: a row read back with exactly
   * that text is what this code serialised, so it skips the schema parse (rows of other versions, or of an
   * earlier life of the object, are parsed as before).
   */
  private readonly written = new Set<string>();
  /** The earliest `next_at` of the rows added since `takeAdded` last looked (null: none added). */
  private addedMin: number | null = null;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  add(entry: OutboxEntry, nextAt: number): void {
    const payload = JSON.stringify(entry.payload);
    this.sql.exec(
      "INSERT INTO outbox (kind, payload, attempts, next_at) VALUES (?, ?, 0, ?)",
      entry.kind,
      payload,
      nextAt,
    );
    if (this.written.size >= WRITTEN_MAX) this.written.clear();
    this.written.add(`${entry.kind}\n${payload}`);
    this.addedMin = this.addedMin === null ? nextAt : Math.min(this.addedMin, nextAt);
  }

  /**
   * The earliest `next_at` of the rows added since the last call, or null when none was (the job object
   * flushes only after a commit that added rows; one added due now also tells it the table's earliest).
   */
  takeAdded(): number | null {
    const added = this.addedMin;
    this.addedMin = null;
    return added;
  }

  /** Rows due at `now`, oldest first. Rows that do not parse are logged and deleted. */
  due(now: number, jobId: string): DueRow[] {
    const rows = this.sql
      .exec<{ id: number; kind: string; payload: string; attempts: number; next_at: number }>(
        "SELECT id, kind, payload, attempts, next_at FROM outbox WHERE next_at <= ? ORDER BY id",
        now,
      )
      .toArray();
    const out: DueRow[] = [];
    for (const row of rows) {
      let payload: unknown = null;
      try {
        payload = JSON.parse(row.payload);
      } catch {
        // reported below
      }
      const ours = this.written.has(`${row.kind}\n${row.payload}`);
      const parsed = ours
        ? { success: true as const, data: { kind: row.kind, payload } as OutboxEntry }
        : OutboxEntry.safeParse({ kind: row.kind, payload });
      if (parsed.success) {
        out.push({ id: row.id, attempts: row.attempts, next_at: row.next_at, entry: parsed.data });
        continue;
      }
      log("error", { job_id: jobId }, "dropping unreadable outbox row", {
        kind: row.kind,
        issues: parsed.error.issues.slice(0, 3),
      });
      this.sql.exec("DELETE FROM outbox WHERE id = ?", row.id);
    }
    return out;
  }

  /** Sent: delete the row, or keep it for a re-send `delayMs` from `now`. */
  sent(row: DueRow, now: number, delayMs: number | null): void {
    if (delayMs === null) this.sql.exec("DELETE FROM outbox WHERE id = ?", row.id);
    else this.retryAt(row, now + delayMs);
  }

  /** Sends the row again at `at`, unless it was moved (or acknowledged) since it was read. */
  retryAt(row: DueRow, at: number): void {
    this.sql.exec(
      "UPDATE outbox SET attempts = attempts + 1, next_at = ? WHERE id = ? AND next_at = ?",
      at,
      row.id,
      row.next_at,
    );
  }

  earliest(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT MIN(next_at) AS t FROM outbox").one().t;
  }

  dropKind(kind: OutboxKind): void {
    this.sql.exec("DELETE FROM outbox WHERE kind = ?", kind);
  }

  /** The consumer is done with a webhook event. */
  ackWebhook(eventId: string): void {
    this.sql.exec("DELETE FROM outbox WHERE kind = 'webhook' AND json_extract(payload, '$.event_id') = ?", eventId);
  }

  /**
   * The consumer holds a webhook event and tries it again at `nextAttemptAt`: re-send it only if nothing is
   * heard of it by then plus a grace period. The queue works, so the next unreported re-send starts short.
   */
  webhookPending(eventId: string, nextAttemptAt: number): boolean {
    const cursor = this.sql.exec(
      "UPDATE outbox SET next_at = ?, attempts = 0 WHERE kind = 'webhook' AND json_extract(payload, '$.event_id') = ?",
      nextAttemptAt + WEBHOOK_PENDING_GRACE_MS,
      eventId,
    );
    return cursor.rowsWritten > 0;
  }
}
