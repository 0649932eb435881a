/**
 * The machinery of the job Durable Object (its API is in job-do.ts): state in one storage transaction
 * with its events and outbox rows, live broadcast, the outbox flush and the alarm that re-sends what is
 * owed and enforces the job's deadlines. Storage layout: workers/gateway/STORAGE.md.
 */
import { DurableObject } from "cloudflare:workers";
import { equalJitterMs } from "@comfy-edge/shared/backoff";
import { TERMINAL } from "@comfy-edge/shared/contract";
import { log } from "@comfy-edge/shared/log";
import { gatewayConfig } from "../config.ts";
import type { JobConfig } from "./config.ts";
import { dueAction, jobDeadlines } from "./deadlines.ts";
import { OUTBOX_TABLE, Outbox, resendDelayMs } from "./outbox.ts";
import { deliver } from "./outbox-deliver.ts";
import { SseHub } from "./sse.ts";
import { type FenceResult, type JobEventRecord, type JobState, upgradeState } from "./state.ts";
import { expireLease, finish, type JobTx, webhookMessage } from "./transitions.ts";
import { Waiters } from "./waiters.ts";

const OUTBOX_SAFETY_MS = 10_000;
/** A send that failed (queue or RPC error) is tried again after 1 s, doubling up to 5 min, equal jitter. */
const SEND_RETRY = { baseMs: 1000, maxMs: 300_000 };

export class JobCore extends DurableObject<Env> {
  private cached: JobState | null | undefined;
  protected readonly sse = new SseHub();
  protected readonly outbox: Outbox;
  protected readonly cfg: JobConfig;
  protected readonly tx: JobTx;
  /** `Prefer: wait` callers and runners' cancel-wait long polls, re-checked after every commit. */
  protected readonly waiters = new Waiters();
  private pendingBroadcast: JobEventRecord[] = [];
  private flushing: Promise<void> | null = null;
  private flushAgain = false;
  /** The alarm time last set by this instance (null after it fired). */
  private alarmAt: number | null = null;
  /** The clock: every decision reads it (tests move it to reach deadlines). */
  protected now: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Both tables in one statement batch (one call into storage per object start).
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL, at INTEGER NOT NULL); ${OUTBOX_TABLE}`,
    );
    this.outbox = new Outbox(ctx.storage.sql);
    this.cfg = gatewayConfig(env).jobs;
    this.tx = { event: (s, type, data, now) => this.event(s, type, data, now), outbox: this.outbox };
  }

  protected get job(): JobState | null {
    if (this.cached === undefined) {
      const stored = this.ctx.storage.kv.get<Partial<JobState>>("state");
      this.cached = stored ? upgradeState(stored) : null;
    }
    return this.cached;
  }

  protected save(state: JobState): void {
    this.cached = state;
    this.ctx.storage.kv.put("state", state);
  }

  /** After deleteAll: the job is gone. */
  protected forget(): void {
    this.cached = null;
    this.alarmAt = null;
  }

  protected event(s: JobState, type: JobEventRecord["type"], data: Record<string, unknown>, now: number) {
    s.seq += 1;
    const record: JobEventRecord = { seq: s.seq, type, data, at: now };
    this.ctx.storage.sql.exec(
      "INSERT INTO events (seq, type, data, at) VALUES (?, ?, ?, ?)",
      record.seq,
      type,
      JSON.stringify(data),
      now,
    );
    this.pendingBroadcast.push(record);
    const webhook = webhookMessage(s, record);
    if (webhook) this.outbox.add({ kind: "webhook", payload: webhook }, now);
    return record;
  }

  /** Writes a new job (state, first event, outbox rows) in one transaction. */
  protected createWith(state: JobState, write: (state: JobState, now: number) => void): void {
    this.pendingBroadcast = [];
    this.ctx.storage.transactionSync(() => {
      // Steps run before the job was queued (an LLM writing an input) come first: one `llm` event each.
      for (const { model, usage, cache, output } of state.steps ?? [])
        this.event(state, "llm", { model, usage, cache, output }, state.created_at);
      write(state, state.created_at);
      this.save(state);
    });
    this.afterCommit(state);
  }

  /**
   * Runs `mutate` in one storage transaction, then broadcasts events, schedules the alarm and flushes the
   * outbox if the transaction added to it.
   */
  protected commit(mutate: (state: JobState, now: number) => void): JobState {
    const state = this.job;
    if (!state) throw new Error("job not found");
    const now = this.now();
    this.pendingBroadcast = [];
    try {
      this.ctx.storage.transactionSync(() => {
        mutate(state, now);
        this.save(state);
      });
    } catch (err) {
      // The transaction rolled back: drop the half-mutated copy and reload from storage.
      this.cached = undefined;
      this.pendingBroadcast = [];
      throw err;
    }
    this.afterCommit(state);
    return state;
  }

  private afterCommit(state: JobState): void {
    const events = this.pendingBroadcast;
    this.pendingBroadcast = [];
    for (const e of events) this.sse.broadcast(e);
    this.sse.keepPreviewOf(state.status === "running" ? state.attempt : null);
    if (TERMINAL.has(state.status)) this.sse.close();
    this.waiters.check();
    // Only a commit that owes something new flushes (a lease grant, heartbeat or progress report does not):
    // rows owed from before are sent when the alarm set for them fires.
    const added = this.outbox.takeAdded();
    this.scheduleAlarm(state, added);
    if (added !== null) this.ctx.waitUntil(this.flush());
  }

  protected fence(attempt: number, pool: string): FenceResult<{ state: JobState }> {
    const s = this.job;
    if (!s || s.pool !== pool)
      return { ok: false, code: "job_not_found", message: "No such job in this runner's pool." };
    if (s.status !== "running" || !s.lease || s.lease.attempt !== attempt) {
      return {
        ok: false,
        code: "lease_lost",
        message: `This lease (attempt ${attempt}) is no longer current; the job is ${s.status}${s.lease ? ` on attempt ${s.lease.attempt}` : ""}. Stop working on it.`,
      };
    }
    return { ok: true, state: s };
  }

  // ---- alarm: outbox, lease expiry, run and queue time limits --------------------------------------

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const s = this.job;
    if (!s) return;
    const action = dueAction(s, this.now(), this.cfg);
    if (action?.kind === "lease_expired") this.commit((n, now) => expireLease(this.tx, n, now));
    else if (action) this.commit((n, now) => finish(this.tx, n, "failed", now, action.error));
    // The flush ends by setting the alarm again (flushOnce).
    await this.flush();
  }

  /**
   * Sets the alarm to the earliest deadline. `flushing`: an outbox flush is starting for rows just added,
   * the earliest of them due at `flushing`; rows due now only need the alarm as a safety net in case this
   * object dies before delivering them (and when one of the new rows is due now, the table's earliest row
   * is too: no need to read it).
   */
  protected scheduleAlarm(s: JobState | null, flushing: number | null = null): void {
    if (!s) return;
    const now = this.now();
    const times = jobDeadlines(s, this.cfg);
    const owed = flushing !== null && flushing <= now ? flushing : this.outbox.earliest();
    if (owed !== null) times.push(flushing !== null ? Math.max(owed, now + OUTBOX_SAFETY_MS) : owed);
    if (times.length === 0) {
      // Nothing owed and no deadline (a finished job whose outbox is delivered): the alarm this instance
      // set would only wake the object (often evicted by then) to find nothing to do.
      if (this.alarmAt !== null) {
        this.alarmAt = null;
        this.ctx.waitUntil(this.ctx.storage.deleteAlarm());
      }
      return;
    }
    const at = Math.max(now, Math.min(...times));
    if (at === this.alarmAt) return;
    this.alarmAt = at;
    this.ctx.waitUntil(this.ctx.storage.setAlarm(at));
  }

  /** Delivers what the outbox owes now; a commit during a running flush makes it go round again. */
  protected flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      do {
        this.flushAgain = false;
        await this.flushOnce();
      } while (this.flushAgain);
    })().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const jobId = this.job?.id;
    if (!jobId) return;
    for (const row of this.outbox.due(this.now(), jobId)) {
      try {
        await deliver(this.env, jobId, row.entry);
        this.outbox.sent(row, this.now(), resendDelayMs(row.entry.kind, row.attempts, this.cfg));
      } catch (err) {
        log("warn", { job_id: jobId }, "outbox delivery failed", {
          kind: row.entry.kind,
          attempts: row.attempts + 1,
          error: String(err),
        });
        this.outbox.retryAt(row, this.now() + equalJitterMs(row.attempts + 1, SEND_RETRY));
      }
    }
    this.scheduleAlarm(this.job);
  }
}
