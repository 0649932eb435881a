/**
 * One Durable Object per job: state, events, lease (fenced by attempt) and an outbox written in the same
 * transaction as the state. Its alarm re-sends what the outbox owes until acknowledged, expires silent
 * leases and enforces the queue time limit, so no crash between two writes can strand a job.
 * Storage layout: workers/gateway/STORAGE.md.
 */
import { DurableObject } from "cloudflare:workers";
import { backoffMs } from "../../../shared/backoff.ts";
import type {
  DispatchMessage,
  JobDispatchRpc,
  JobError,
  JobWebhookRpc,
  RunnerEvent,
  WebhookEvent,
  WebhookMessage,
  Workflow,
} from "../../../shared/contract/index.ts";
import { TERMINAL } from "../../../shared/contract/index.ts";
import { poolStub } from "../pools/access.ts";
import {
  type CreateJobInput,
  type CreateResult,
  DEFAULT_MAX_ATTEMPTS,
  type FenceResult,
  type JobEventRecord,
  type JobState,
  type JobView,
  LEASE_MS,
  type StoredOutput,
  viewOf,
} from "./state.ts";

type OutboxKind = "dispatch" | "index" | "pool_release" | "sweep" | "webhook";
interface OutboxRow {
  id: number;
  kind: OutboxKind;
  payload: string;
  attempts: number;
  next_at: number;
}

export interface LeaseGrantInternal {
  job_id: string;
  attempt: number;
  expires_at: number;
  workflow: Workflow;
  output: JobState["output"];
  timeout_s: number | null;
  inputs: Array<{ node_id: string; key: string }>;
}

const KEEPALIVE_MS = 15_000;
const PROGRESS_WEBHOOK_MIN_MS = 2000;
const WEBHOOK_TYPES: Partial<Record<JobEventRecord["type"], WebhookEvent>> = {
  started: "job.started",
  progress: "job.progress",
  succeeded: "job.succeeded",
  failed: "job.failed",
  canceled: "job.canceled",
};
const REDISPATCH_MAX_MS = 600_000;
const TIMEOUT_GRACE_MS = 60_000;
const OUTBOX_SAFETY_MS = 10_000;
const encoder = new TextEncoder();

export function sseFrame(e: JobEventRecord): string {
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ sequence: e.seq, type: e.type, at: new Date(e.at).toISOString(), ...e.data })}\n\n`;
}

/**
 * Fills fields added after a job was stored, so jobs written by an older deployment keep working after a
 * new one lands (stored states are never rewritten in bulk).
 */
export function upgradeState(stored: Partial<JobState>): JobState {
  return {
    ...stored,
    origin: stored.origin ?? null,
    last_progress_webhook_at: stored.last_progress_webhook_at ?? null,
    upload_attempts:
      stored.upload_attempts ?? (stored.attempt ? Array.from({ length: stored.attempt }, (_, i) => i + 1) : []),
    webhook: stored.webhook ?? null,
    image_allowlist: stored.image_allowlist ?? null,
    max_running: stored.max_running ?? null,
  } as JobState;
}

export class JobDO extends DurableObject<Env> implements JobDispatchRpc, JobWebhookRpc {
  private cached: JobState | null | undefined;
  private subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  private waiters = new Set<() => void>();
  private keepAlive: ReturnType<typeof setInterval> | null = null;
  private flushing: Promise<void> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL, at INTEGER NOT NULL)`,
    );
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL)`,
    );
  }

  // ---- state helpers ------------------------------------------------------------------------------

  private get job(): JobState | null {
    if (this.cached === undefined) {
      const stored = this.ctx.storage.kv.get<Partial<JobState>>("state");
      this.cached = stored ? upgradeState(stored) : null;
    }
    return this.cached;
  }

  private save(state: JobState): void {
    this.cached = state;
    this.ctx.storage.kv.put("state", state);
  }

  private event(
    state: JobState,
    type: JobEventRecord["type"],
    data: Record<string, unknown>,
    now: number,
  ): JobEventRecord {
    state.seq += 1;
    const record: JobEventRecord = { seq: state.seq, type, data, at: now };
    this.ctx.storage.sql.exec(
      "INSERT INTO events (seq, type, data, at) VALUES (?, ?, ?, ?)",
      record.seq,
      type,
      JSON.stringify(data),
      now,
    );
    this.pendingBroadcast.push(record);
    this.webhookFor(state, record);
    return record;
  }

  /** Puts the webhook an event owes into the outbox, in the same transaction as the event. */
  private webhookFor(state: JobState, e: JobEventRecord): void {
    const type = WEBHOOK_TYPES[e.type];
    if (!type || !state.webhook || !state.webhook.events.includes(type)) return;
    if (type === "job.progress") {
      if (e.at - (state.last_progress_webhook_at ?? 0) < PROGRESS_WEBHOOK_MIN_MS) return;
      state.last_progress_webhook_at = e.at;
    }
    const message: WebhookMessage = {
      event_id: `evt_${state.id.slice(4)}_${e.seq}`,
      type,
      sequence: e.seq,
      at: e.at,
      job_id: state.id,
      tenant_id: state.tenant_id,
      url: state.webhook.url,
      origin: state.origin ?? "",
      job: viewOf(state),
    };
    this.enqueueOutbox("webhook", message, e.at);
  }

  private pendingBroadcast: JobEventRecord[] = [];

  private enqueueOutbox(kind: OutboxKind, payload: unknown, nextAt: number): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO outbox (kind, payload, attempts, next_at) VALUES (?, ?, 0, ?)",
      kind,
      JSON.stringify(payload),
      nextAt,
    );
  }

  private indexPayload(s: JobState): Record<string, unknown> {
    return {
      id: s.id,
      tenant_id: s.tenant_id,
      pool: s.pool,
      status: s.status,
      seq: s.seq,
      created_at: s.created_at,
      completed_at: s.completed_at,
      key_id: s.key_id,
      run_ms: s.stats.run_ms,
    };
  }

  private dispatchPayload(s: JobState): DispatchMessage {
    return {
      type: "dispatch",
      job_id: s.id,
      attempt: s.next_attempt,
      tenant_id: s.tenant_id,
      pool: s.pool,
      max_running: s.max_running,
      inputs: s.inputs,
      image_allowlist: s.image_allowlist,
    };
  }

  /** Runs `mutate` in one storage transaction, then broadcasts events, schedules the alarm and flushes the outbox. */
  private commit(mutate: (state: JobState, now: number) => void): JobState {
    const state = this.job;
    if (!state) throw new Error("job not found");
    const now = Date.now();
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
    for (const e of events) this.broadcast(e);
    if (TERMINAL.has(state.status)) {
      for (const w of this.waiters) w();
      this.waiters.clear();
      this.closeSubscribers();
    }
    this.scheduleAlarm(state, true);
    this.ctx.waitUntil(this.flush());
  }

  private finish(s: JobState, status: "succeeded" | "failed" | "canceled", now: number, error: JobError | null): void {
    const released = s.lease !== null ? s.lease.attempt : s.next_attempt;
    s.status = status;
    s.completed_at = now;
    s.error = error;
    s.lease = null;
    s.progress = status === "succeeded" ? s.progress : null;
    if (s.started_at !== null && s.stats.run_ms === null) s.stats.run_ms = now - s.started_at;
    s.stats.total_ms = now - s.created_at;
    this.ctx.storage.sql.exec("DELETE FROM outbox WHERE kind = 'dispatch'");
    this.event(s, status, error ? { error } : {}, now);
    this.enqueueOutbox("index", this.indexPayload(s), now);
    this.enqueueOutbox("pool_release", { pool: s.pool, job_id: s.id, attempt: released }, now);
    const keep = status === "succeeded" ? s.attempt : null;
    if (s.upload_attempts.some((a) => a !== keep)) this.enqueueOutbox("sweep", { keep_attempt: keep }, now);
  }

  private requeue(s: JobState, now: number, reason: string, counted: boolean): void {
    if (counted) s.attempts_counted += 1;
    const hadLease = s.lease !== null;
    s.status = "queued";
    s.lease = null;
    s.progress = null;
    s.cancel_requested = false;
    s.next_attempt = s.attempt + 1;
    s.queued_at = now;
    this.event(s, "queued", { attempt: s.next_attempt, reason }, now);
    if (hadLease) this.enqueueOutbox("pool_release", { pool: s.pool, job_id: s.id, attempt: s.attempt }, now);
    this.enqueueOutbox("dispatch", this.dispatchPayload(s), now);
  }

  private get leaseMs(): number {
    return (Number(this.env.LEASE_DURATION_S) || LEASE_MS / 1000) * 1000;
  }

  private get webhookResendMs(): number {
    return (Number(this.env.WEBHOOK_RESEND_S) || 3600) * 1000;
  }

  private get redispatchBaseMs(): number {
    return (Number(this.env.DISPATCH_RESEND_S) || 30) * 1000;
  }

  private fence(attempt: number, pool: string): FenceResult<{ state: JobState }> {
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

  // ---- client API -----------------------------------------------------------------------------------

  async create(input: CreateJobInput): Promise<CreateResult> {
    const existing = this.job;
    if (existing) {
      const same =
        existing.idempotency && input.idempotency && existing.idempotency.body_hash === input.idempotency.body_hash;
      return same ? { status: "existing", job: viewOf(existing) } : { status: "conflict", job: viewOf(existing) };
    }
    const now = Date.now();
    const state: JobState = {
      id: input.id,
      tenant_id: input.tenant_id,
      key_id: input.key_id,
      pool: input.pool,
      status: "queued",
      attempt: 0,
      next_attempt: 1,
      attempts_counted: 0,
      max_attempts: Number(this.env.MAX_ATTEMPTS) || DEFAULT_MAX_ATTEMPTS,
      created_at: now,
      queued_at: now,
      started_at: null,
      completed_at: null,
      queue_deadline: now + input.queue_timeout_s * 1000,
      lease: null,
      cancel_requested: false,
      progress: null,
      outputs: [],
      error: null,
      metadata: input.metadata,
      stats: { queue_ms: null, run_ms: null, upload_ms: null, total_ms: null },
      output: input.output,
      timeout_s: input.timeout_s,
      inputs: input.inputs,
      max_running: input.max_running,
      image_allowlist: input.image_allowlist,
      webhook: input.webhook,
      idempotency: input.idempotency,
      origin: input.origin,
      last_progress_webhook_at: null,
      upload_attempts: [],
      seq: 0,
    };
    this.pendingBroadcast = [];
    this.ctx.storage.transactionSync(() => {
      this.event(state, "queued", { attempt: 1 }, now);
      this.enqueueOutbox("dispatch", this.dispatchPayload(state), now);
      this.enqueueOutbox("index", this.indexPayload(state), now);
      // The workflow is written once, apart from the state that every heartbeat rewrites.
      this.ctx.storage.kv.put("workflow", input.workflow);
      this.save(state);
    });
    this.afterCommit(state);
    return { status: "created", job: viewOf(state) };
  }

  async get(tenantId: string): Promise<JobView | null> {
    const s = this.job;
    return s && s.tenant_id === tenantId ? viewOf(s) : null;
  }

  async cancel(tenantId: string): Promise<{ status: "ok" | "not_found" | "finished"; job: JobView | null }> {
    const s = this.job;
    if (!s || s.tenant_id !== tenantId) return { status: "not_found", job: null };
    if (TERMINAL.has(s.status)) return { status: "finished", job: viewOf(s) };
    const next = this.commit((n, now) => {
      if (n.status === "queued") this.finish(n, "canceled", now, null);
      else n.cancel_requested = true;
    });
    return { status: "ok", job: viewOf(next) };
  }

  /** Waits until the job is terminal or `timeoutMs` passes (Prefer: wait). */
  async waitFor(tenantId: string, timeoutMs: number): Promise<JobView | null> {
    const s = this.job;
    if (!s || s.tenant_id !== tenantId) return null;
    if (!TERMINAL.has(s.status) && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        this.waiters.add(done);
      });
    }
    return viewOf(this.job!);
  }

  /** DELETE /v1/jobs/:id: removes a terminal job, its objects and its index row. */
  async remove(tenantId: string): Promise<"ok" | "not_found" | "not_finished"> {
    const s = this.job;
    if (!s || s.tenant_id !== tenantId) return "not_found";
    if (!TERMINAL.has(s.status)) return "not_finished";
    await this.deletePrefix(`jobs/${s.id}/`);
    await this.env.DB.prepare("DELETE FROM jobs_index WHERE id = ?").bind(s.id).run();
    this.closeSubscribers();
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.cached = null;
    return "ok";
  }

  /** SSE: past events after `after`, then live ones; ends after the terminal event. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const s = this.job;
    if (!s || s.tenant_id !== url.searchParams.get("tenant")) return new Response(null, { status: 404 });
    const after = Number(url.searchParams.get("after") ?? "0") || 0;
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const past = this.ctx.storage.sql
      .exec<{ seq: number; type: JobEventRecord["type"]; data: string; at: number }>(
        "SELECT seq, type, data, at FROM events WHERE seq > ? ORDER BY seq",
        after,
      )
      .toArray();
    let text = ": connected\n\n";
    for (const row of past) text += sseFrame({ seq: row.seq, type: row.type, data: JSON.parse(row.data), at: row.at });
    void writer.write(encoder.encode(text)).catch(() => {});
    if (TERMINAL.has(s.status)) {
      void writer.close().catch(() => {});
    } else {
      this.subscribers.add(writer);
      this.startKeepAlive();
    }
    return new Response(readable, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        "x-accel-buffering": "no",
      },
    });
  }

  private broadcast(e: JobEventRecord): void {
    if (this.subscribers.size === 0) return;
    const bytes = encoder.encode(sseFrame(e));
    for (const w of this.subscribers) {
      w.write(bytes).catch(() => this.subscribers.delete(w));
    }
  }

  private closeSubscribers(): void {
    for (const w of this.subscribers) void w.close().catch(() => {});
    this.subscribers.clear();
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
  }

  private startKeepAlive(): void {
    if (this.keepAlive) return;
    this.keepAlive = setInterval(() => {
      if (this.subscribers.size === 0) {
        if (this.keepAlive) clearInterval(this.keepAlive);
        this.keepAlive = null;
        return;
      }
      const bytes = encoder.encode(": keep-alive\n\n");
      for (const w of this.subscribers) w.write(bytes).catch(() => this.subscribers.delete(w));
    }, KEEPALIVE_MS);
  }

  // ---- dispatcher and runner API -----------------------------------------------------------------

  /** Called by the pool dispatcher: starts attempt `attempt` if the job still waits for exactly it. */
  async grantLease(attempt: number, runnerId: string, pool: string): Promise<LeaseGrantInternal | null> {
    const s = this.job;
    if (!s || s.status !== "queued" || s.next_attempt !== attempt || s.pool !== pool) return null;
    const next = this.commit((n, now) => {
      n.status = "running";
      n.attempt = attempt;
      n.lease = { attempt, expires_at: now + this.leaseMs, runner_id: runnerId };
      n.started_at = now;
      n.stats.queue_ms = now - n.created_at;
      n.stats.run_ms = null;
      n.progress = null;
      this.ctx.storage.sql.exec("DELETE FROM outbox WHERE kind = 'dispatch'");
      this.event(n, "started", { attempt, runner_id: runnerId }, now);
    });
    return {
      job_id: next.id,
      attempt,
      expires_at: next.lease!.expires_at,
      // Jobs stored before the workflow moved to its own key kept it inside the state.
      workflow:
        this.ctx.storage.kv.get<Workflow>("workflow") ??
        this.ctx.storage.kv.get<{ workflow?: Workflow }>("state")?.workflow ??
        {},
      output: next.output,
      timeout_s: next.timeout_s,
      inputs: next.inputs.map((i) => ({ node_id: i.node_id, key: i.key })),
    };
  }

  async heartbeat(attempt: number, pool: string): Promise<FenceResult<{ expires_at: number; cancel: boolean }>> {
    const f = this.fence(attempt, pool);
    if (!f.ok) return f;
    const next = this.commit((n, now) => {
      n.lease!.expires_at = now + this.leaseMs;
    });
    return { ok: true, expires_at: next.lease!.expires_at, cancel: next.cancel_requested };
  }

  /** Checks the attempt before the gateway mints an upload URL under jobs/{job}/a{attempt}/. */
  async checkLease(attempt: number, pool: string): Promise<FenceResult<{ cancel: boolean }>> {
    const f = this.fence(attempt, pool);
    if (!f.ok) return f;
    // Remember which attempts may have written objects, so only those are swept at the end.
    if (!f.state.upload_attempts.includes(attempt)) this.commit((n) => void n.upload_attempts.push(attempt));
    return { ok: true, cancel: f.state.cancel_requested };
  }

  async runnerEvent(
    attempt: number,
    pool: string,
    ev: RunnerEvent,
  ): Promise<
    FenceResult<{ status: string; cancel: boolean }> | { ok: false; code: "output_missing"; message: string }
  > {
    const f = this.fence(attempt, pool);
    if (!f.ok) return f;
    let verified: StoredOutput[] = [];
    if (ev.type === "succeeded") {
      const prefix = `jobs/${f.state.id}/a${attempt}/`;
      const heads = await Promise.all(
        ev.outputs.map(async (o) => (o.key.startsWith(prefix) ? this.env.FILES.head(o.key) : null)),
      );
      const missing = ev.outputs.findIndex((_, i) => heads[i] === null);
      if (missing >= 0) {
        return {
          ok: false,
          code: "output_missing",
          message: `Output ${missing} (${ev.outputs[missing]!.key}) was not uploaded under ${prefix}.`,
        };
      }
      verified = ev.outputs.map((o, i) => ({
        index: i,
        key: o.key,
        node_id: o.node_id,
        filename: o.filename,
        content_type: o.content_type,
        size: heads[i]!.size,
      }));
      const again = this.fence(attempt, pool); // the state may have moved while we waited on R2
      if (!again.ok) return again;
    }
    const next = this.commit((n, now) => {
      switch (ev.type) {
        case "started":
          break;
        case "progress":
          n.progress = { value: ev.value, max: ev.max, node_id: ev.node_id ?? null };
          n.lease!.expires_at = now + this.leaseMs;
          this.event(n, "progress", { value: ev.value, max: ev.max, node_id: ev.node_id ?? null }, now);
          break;
        case "succeeded": {
          n.outputs = verified;
          if (ev.stats?.run_ms !== undefined) n.stats.run_ms = ev.stats.run_ms;
          if (ev.stats?.upload_ms !== undefined) n.stats.upload_ms = ev.stats.upload_ms;
          for (const o of verified) {
            this.event(
              n,
              "output",
              { index: o.index, node_id: o.node_id, filename: o.filename, content_type: o.content_type, size: o.size },
              now,
            );
          }
          this.finish(n, "succeeded", now, null);
          break;
        }
        case "failed":
          if (ev.stats?.run_ms !== undefined) n.stats.run_ms = ev.stats.run_ms;
          if (ev.retryable && n.attempts_counted + 1 < n.max_attempts && !n.cancel_requested) {
            this.requeue(n, now, `retryable failure: ${ev.error.code}`, true);
          } else {
            this.finish(n, "failed", now, ev.error);
          }
          break;
        case "canceled":
          this.finish(n, "canceled", now, null);
          break;
      }
    });
    return { ok: true, status: next.status, cancel: next.cancel_requested };
  }

  /** DELETE /runner/v1/leases/:id: the runner gives the job back; no attempt is counted. */
  async giveBack(attempt: number, pool: string): Promise<FenceResult<{ status: string }>> {
    const f = this.fence(attempt, pool);
    if (!f.ok) return f;
    const next = this.commit((n, now) => {
      if (n.cancel_requested) this.finish(n, "canceled", now, null);
      else this.requeue(n, now, "given back by the runner", false);
    });
    return { ok: true, status: next.status };
  }

  async ackWebhook(eventId: string): Promise<void> {
    this.ctx.storage.sql.exec(
      "DELETE FROM outbox WHERE kind = 'webhook' AND json_extract(payload, '$.event_id') = ?",
      eventId,
    );
  }

  /** The consumer could not fetch an input of dispatch `attempt`: the job fails for good. */
  async failDispatch(attempt: number, error: JobError): Promise<void> {
    const s = this.job;
    if (!s || s.status !== "queued" || s.next_attempt !== attempt) return;
    this.commit((n, now) => this.finish(n, "failed", now, error));
  }

  // ---- alarm: outbox, lease expiry, queue time limit ------------------------------------------

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const s = this.job;
    if (!s) return;
    const now = Date.now();
    if (s.status === "running" && s.lease && s.lease.expires_at <= now) {
      this.commit((n, t) => {
        if (n.cancel_requested) this.finish(n, "canceled", t, null);
        else if (n.attempts_counted + 1 < n.max_attempts)
          this.requeue(n, t, "lease expired: the runner stopped reporting", true);
        else {
          n.attempts_counted += 1;
          this.finish(n, "failed", t, {
            code: "runner_lost",
            message: `The runner stopped reporting on ${n.max_attempts} attempts.`,
          });
        }
      });
    } else if (
      s.status === "running" &&
      s.timeout_s !== null &&
      s.started_at !== null &&
      s.started_at + s.timeout_s * 1000 + TIMEOUT_GRACE_MS <= now
    ) {
      this.commit((n, t) =>
        this.finish(n, "failed", t, {
          code: "job_timeout",
          message: `The job ran longer than its timeout_s of ${n.timeout_s} s.`,
        }),
      );
    } else if (s.status === "queued" && s.queue_deadline <= now) {
      this.commit((n, t) =>
        this.finish(n, "failed", t, {
          code: "no_capacity",
          message: `No runner of pool '${n.pool}' took the job within its queue time limit of ${Math.round((n.queue_deadline - n.created_at) / 1000)} s.`,
        }),
      );
    }
    await this.flush();
    this.scheduleAlarm(this.job);
  }

  /**
   * Sets the alarm to the earliest deadline. `flushing`: an outbox flush has just started, so rows due now
   * only need the alarm as a safety net in case this object dies before delivering them.
   */
  private scheduleAlarm(s: JobState | null, flushing = false): void {
    if (!s) return;
    const now = Date.now();
    const times: number[] = [];
    const row = this.ctx.storage.sql.exec<{ t: number | null }>("SELECT MIN(next_at) AS t FROM outbox").one();
    if (row.t !== null) times.push(flushing ? Math.max(row.t, now + OUTBOX_SAFETY_MS) : row.t);
    if (s.status === "running" && s.lease) times.push(s.lease.expires_at);
    if (s.status === "running" && s.timeout_s !== null && s.started_at !== null)
      times.push(s.started_at + s.timeout_s * 1000 + TIMEOUT_GRACE_MS);
    if (s.status === "queued") times.push(s.queue_deadline);
    if (times.length === 0) return;
    const at = Math.max(now, Math.min(...times));
    if (at === this.alarmAt) return;
    this.alarmAt = at;
    this.ctx.waitUntil(this.ctx.storage.setAlarm(at));
  }

  /** The alarm time last set by this instance (null after it fired). */
  private alarmAt: number | null = null;

  /** Delivers what the outbox owes now; a commit during a running flush makes it go round again. */
  private flush(): Promise<void> {
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

  private flushAgain = false;

  private async flushOnce(): Promise<void> {
    const now = Date.now();
    const rows = this.ctx.storage.sql
      .exec<{ id: number; kind: OutboxKind; payload: string; attempts: number; next_at: number }>(
        "SELECT * FROM outbox WHERE next_at <= ? ORDER BY id",
        now,
      )
      .toArray() as OutboxRow[];
    for (const row of rows) {
      try {
        await this.deliver(row);
        if (row.kind === "dispatch" || row.kind === "webhook") {
          // Kept until acknowledged (a lease granted / the consumer done with the event): re-sent with
          // backoff, because local queues live in memory and a restart loses what they held.
          const base = row.kind === "dispatch" ? this.redispatchBaseMs : this.webhookResendMs;
          const delay = Math.min(row.kind === "dispatch" ? REDISPATCH_MAX_MS : 6 * 3600_000, base * 2 ** row.attempts);
          this.ctx.storage.sql.exec(
            "UPDATE outbox SET attempts = attempts + 1, next_at = ? WHERE id = ?",
            Date.now() + delay,
            row.id,
          );
        } else {
          this.ctx.storage.sql.exec("DELETE FROM outbox WHERE id = ?", row.id);
        }
      } catch (err) {
        console.error(
          JSON.stringify({
            level: "warn",
            msg: "outbox delivery failed",
            job_id: this.job?.id,
            kind: row.kind,
            attempts: row.attempts + 1,
            error: String(err),
          }),
        );
        this.ctx.storage.sql.exec(
          "UPDATE outbox SET attempts = attempts + 1, next_at = ? WHERE id = ?",
          Date.now() + backoffMs(row.attempts + 1, { baseMs: 1000, maxMs: 300_000 }),
          row.id,
        );
      }
    }
    this.scheduleAlarm(this.job);
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const payload = JSON.parse(row.payload) as Record<string, unknown>;
    switch (row.kind) {
      case "dispatch":
        await this.env.JOBS_QUEUE.send(payload);
        return;
      case "webhook":
        await this.env.WEBHOOKS_QUEUE.send(payload);
        return;
      case "index":
        await this.env.DB.prepare(
          `INSERT INTO jobs_index (id, tenant_id, key_id, pool, status, seq, created_at, completed_at, run_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET status = excluded.status, seq = excluded.seq,
             completed_at = excluded.completed_at, run_ms = excluded.run_ms
           WHERE excluded.seq > jobs_index.seq`,
        )
          .bind(
            payload.id,
            payload.tenant_id,
            payload.key_id ?? null,
            payload.pool,
            payload.status,
            payload.seq,
            payload.created_at,
            payload.completed_at ?? null,
            payload.run_ms ?? null,
          )
          .run();
        return;
      case "pool_release": {
        await poolStub(this.env, String(payload.pool)).release(String(payload.job_id), Number(payload.attempt));
        return;
      }
      case "sweep": {
        const s = this.job;
        if (!s) return;
        const keep = payload.keep_attempt === null ? null : `jobs/${s.id}/a${payload.keep_attempt}/`;
        await this.deletePrefix(`jobs/${s.id}/a`, keep);
        return;
      }
    }
  }

  private async deletePrefix(prefix: string, keep: string | null = null): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.env.FILES.list({ prefix, cursor, limit: 1000 });
      const keys = page.objects.map((o) => o.key).filter((k) => keep === null || !k.startsWith(keep));
      if (keys.length > 0) await this.env.FILES.delete(keys);
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  }
}
