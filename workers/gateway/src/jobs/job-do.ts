/**
 * One Durable Object per job: state, events, lease (fenced by attempt) and an outbox written in the same
 * transaction as the state. Its alarm re-sends what the outbox owes until acknowledged, expires silent
 * leases and enforces the run and queue time limits, so no crash between two writes can strand a job.
 * This file is its API (clients, the pool dispatcher, runners, the queue consumer); the machinery is in
 * job-core.ts. Storage layout: workers/gateway/STORAGE.md.
 */
import type {
  DispatchMessage,
  JobDispatchRpc,
  JobError,
  JobWebhookRpc,
  RunnerEvent,
  Workflow,
} from "@comfy-edge/shared/contract";
import { TERMINAL } from "@comfy-edge/shared/contract";
import { rememberJob } from "../templates/output-cache-store.ts";
import { expectedOutputs } from "./expected-outputs.ts";
import { JobCore } from "./job-core.ts";
import { deletePrefix } from "./outbox-deliver.ts";
import { checkOutputs, type OutputCheck } from "./outputs-check.ts";
import { queueSlotsStub } from "./queue-slots.ts";
import {
  type CreateJobInput,
  type CreateResult,
  type FenceResult,
  initialState,
  type JobEventRecord,
  type JobState,
  type JobView,
  type LeaseGrantInternal,
  type StoredOutput,
  upgradeState,
  viewOf,
} from "./state.ts";
import { dispatchPayload, finish, indexPayload, recordStarted, releaseSlot, requeue } from "./transitions.ts";

export type { LeaseGrantInternal };
export { upgradeState };

/** A queued-job slot whose release never came stops counting this long after the queue time limit. */
const SLOT_SAFETY_MS = 3600_000;

export class JobDO extends JobCore implements JobDispatchRpc, JobWebhookRpc {
  /** The workflow this instance stored at create (it never changes): the lease grant need not read it back. */
  private createdWorkflow: Workflow | null = null;

  protected override forget(): void {
    super.forget();
    this.createdWorkflow = null;
  }

  // ---- client API -----------------------------------------------------------------------------------

  async create(input: CreateJobInput): Promise<CreateResult> {
    const existing = this.job;
    if (existing) return this.repeated(existing, input);
    const max = input.max_queued;
    if (max === null) return this.createNow(input, false);
    // The slot is reserved in another object: hold other calls back so a concurrent duplicate (same
    // Idempotency-Key) cannot create the job twice while this one waits.
    return this.ctx.blockConcurrencyWhile(async () => {
      const raced = this.job;
      if (raced) return this.repeated(raced, input);
      const expiresAt = this.now() + input.queue_timeout_s * 1000 + SLOT_SAFETY_MS;
      const slot = await queueSlotsStub(this.env, input.tenant_id).reserve(input.id, max, expiresAt);
      if (!slot.ok) return { status: "queue_full", held: slot.held, max };
      return this.createNow(input, true);
    });
  }

  private repeated(existing: JobState, input: CreateJobInput): CreateResult {
    const same =
      existing.idempotency && input.idempotency && existing.idempotency.body_hash === input.idempotency.body_hash;
    if (same) return { status: "existing", job: viewOf(existing) };
    return { status: "conflict", job: viewOf(existing), input_keys: existing.inputs.map((i) => i.key) };
  }

  private createNow(input: CreateJobInput, queueSlot: boolean): CreateResult {
    const state = initialState(input, this.now(), this.cfg.maxAttempts, queueSlot);
    this.createWith(state, (n, now) => {
      this.event(n, "queued", { attempt: n.next_attempt }, now);
      this.outbox.add({ kind: "dispatch", payload: dispatchPayload(n) }, now);
      this.outbox.add({ kind: "index", payload: indexPayload(n) }, now);
      // The workflow is written once, apart from the state that every heartbeat rewrites.
      this.ctx.storage.kv.put("workflow", input.workflow);
    });
    this.createdWorkflow = input.workflow;
    return { status: "created", job: viewOf(state) };
  }

  /**
   * A job answered from the output cache (templates/output-cache.ts): created succeeded at once with the
   * outputs copied from job `from` (under this job's prefix), its events, index row and webhooks as usual.
   */
  async createCached(input: CreateJobInput, from: string, outputs: StoredOutput[]): Promise<CreateResult> {
    const existing = this.job;
    if (existing) return this.repeated(existing, input);
    const state = initialState(input, this.now(), this.cfg.maxAttempts, false);
    this.createWith(state, (n, now) => {
      n.cached_from = from;
      n.outputs = outputs;
      n.stats = { queue_ms: 0, run_ms: 0, upload_ms: null, total_ms: 0 };
      this.ctx.storage.kv.put("workflow", input.workflow);
      for (const { index, node_id, filename, content_type, size } of outputs)
        this.event(n, "output", { index, node_id, filename, content_type, size }, now);
      finish(this.tx, n, "succeeded", now, null);
    });
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
      if (n.status === "queued") finish(this.tx, n, "canceled", now, null);
      else n.cancel_requested = true;
    });
    return { status: "ok", job: viewOf(next) };
  }

  /** Waits until the job is terminal or `timeoutMs` passes (Prefer: wait). */
  async waitFor(tenantId: string, timeoutMs: number): Promise<JobView | null> {
    const s = this.job;
    if (!s || s.tenant_id !== tenantId) return null;
    await this.waiters.wait(timeoutMs, () => TERMINAL.has(this.job?.status ?? "canceled"));
    return viewOf(this.job!);
  }

  /** DELETE /v1/jobs/:id: removes a terminal job, its objects and its index row. */
  async remove(tenantId: string): Promise<"ok" | "not_found" | "not_finished"> {
    const s = this.job;
    if (!s || s.tenant_id !== tenantId) return "not_found";
    if (!TERMINAL.has(s.status)) return "not_finished";
    await deletePrefix(this.env.FILES, `jobs/${s.id}/`);
    await this.env.DB.prepare("DELETE FROM jobs_index WHERE id = ?").bind(s.id).run();
    this.sse.close();
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.forget();
    return "ok";
  }

  /** SSE: past events after `after`, then live ones; ends after the terminal event. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const s = this.job;
    if (!s || s.tenant_id !== url.searchParams.get("tenant")) return new Response(null, { status: 404 });
    const after = Number(url.searchParams.get("after") ?? "0") || 0;
    const past = this.ctx.storage.sql
      .exec<{ seq: number; type: JobEventRecord["type"]; data: string; at: number }>(
        "SELECT seq, type, data, at FROM events WHERE seq > ? ORDER BY seq",
        after,
      )
      .toArray()
      .map((row) => ({ seq: row.seq, type: row.type, data: JSON.parse(row.data), at: row.at }));
    return this.sse.open(past, TERMINAL.has(s.status));
  }

  // ---- dispatcher and runner API -----------------------------------------------------------------

  /** Called by the pool dispatcher: starts attempt `attempt` if the job still waits for exactly it. */
  async grantLease(attempt: number, runnerId: string, pool: string): Promise<LeaseGrantInternal | null> {
    const s = this.job;
    if (s?.status !== "queued" || s.next_attempt !== attempt || s.pool !== pool) return null;
    const workflow =
      this.createdWorkflow ??
      this.ctx.storage.kv.get<Workflow>("workflow") ??
      // Jobs stored before the workflow moved to its own key kept it inside the state.
      this.ctx.storage.kv.get<{ workflow?: Workflow }>("state")?.workflow ??
      {};
    // Upload URLs for the expected outputs come with the lease (routes/runner.ts mints them), on top of the
    // attempt's mint budget (at most MAX_OUTPUTS more); the attempt is swept if it does not end succeeded.
    const uploads = expectedOutputs(workflow, this.cfg.maxOutputs);
    const next = this.commit((n, now) => {
      n.status = "running";
      n.attempt = attempt;
      n.lease = { attempt, expires_at: now + this.cfg.leaseMs, runner_id: runnerId };
      n.started_at = now;
      n.stats.queue_ms = now - n.created_at;
      n.stats.run_ms = null;
      n.progress = null;
      n.resolved_inputs = null;
      n.started_event_attempt = null; // `started` comes with the runner's first report (recordStarted)
      n.uploads_minted = 0;
      if (!n.upload_attempts.includes(attempt)) n.upload_attempts.push(attempt);
      this.outbox.dropKind("dispatch");
      releaseSlot(this.tx, n, now);
    });
    return {
      job_id: next.id,
      attempt,
      expires_at: next.lease!.expires_at,
      workflow,
      uploads,
      output: next.output,
      timeout_s: next.timeout_s,
      inputs: next.inputs.map((i) => ({ node_id: i.node_id, key: i.key })),
    };
  }

  async heartbeat(attempt: number, pool: string): Promise<FenceResult<{ expires_at: number; cancel: boolean }>> {
    const f = this.fence(attempt, pool);
    if (!f.ok) return f;
    const next = this.commit((n, now) => {
      n.lease!.expires_at = now + this.cfg.leaseMs;
    });
    return { ok: true, expires_at: next.lease!.expires_at, cancel: next.cancel_requested };
  }

  /** Long poll: answers as soon as a cancel is requested (or the lease ends), else after `waitMs`. */
  async waitCancel(attempt: number, pool: string, waitMs: number): Promise<FenceResult<{ cancel: boolean }>> {
    const f = this.fence(attempt, pool);
    if (!f.ok) return f;
    await this.waiters.wait(waitMs, () => {
      const s = this.job;
      return s?.status !== "running" || s.lease?.attempt !== attempt || s.cancel_requested;
    });
    const again = this.fence(attempt, pool);
    return again.ok ? { ok: true, cancel: again.state.cancel_requested } : again;
  }

  /** Checks the attempt (and its upload budget) before the gateway mints an upload URL under jobs/{job}/a{attempt}/. */
  async checkLease(
    attempt: number,
    pool: string,
  ): Promise<FenceResult<{ cancel: boolean }> | { ok: false; code: "too_many_uploads"; message: string }> {
    const f = this.fence(attempt, pool);
    if (!f.ok) return f;
    if (f.state.uploads_minted >= this.cfg.maxOutputs) {
      return {
        ok: false,
        code: "too_many_uploads",
        message: `This attempt already has ${f.state.uploads_minted} upload URLs; a job keeps at most ${this.cfg.maxOutputs} outputs.`,
      };
    }
    // Remember which attempts may have written objects, so only those are swept at the end.
    this.commit((n) => {
      n.uploads_minted += 1;
      if (!n.upload_attempts.includes(attempt)) n.upload_attempts.push(attempt);
    });
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
    if (ev.type === "preview") {
      // Ephemeral: to the SSE subscribers (and images streams) only; nothing stored.
      const { node_id, value, max, content_type, image_b64 } = ev;
      const at = new Date(this.now()).toISOString();
      const image = `data:${content_type};base64,${image_b64}`;
      this.sse.sendPreview({ type: "preview", at, attempt, node_id, value, max, image });
      this.waiters.check();
      return { ok: true, status: f.state.status, cancel: f.state.cancel_requested };
    }
    let checked: OutputCheck | null = null;
    if (ev.type === "succeeded") {
      checked = await checkOutputs(this.env.FILES, f.state.id, attempt, ev.outputs, this.cfg);
      if (checked.ok === false) return checked;
      const again = this.fence(attempt, pool); // the state may have moved while we waited on R2
      if (!again.ok) return again;
    }
    const next = this.commit((n, now) => {
      // Values the runner chose for this attempt (seeds given as -1), shown on the job and its `started`.
      if (ev.type === "started" && ev.resolved_inputs) n.resolved_inputs = ev.resolved_inputs;
      recordStarted(this.tx, n, now);
      switch (ev.type) {
        case "started":
          break;
        case "progress":
          n.progress = { value: ev.value, max: ev.max, node_id: ev.node_id ?? null };
          n.lease!.expires_at = now + this.cfg.leaseMs;
          this.event(n, "progress", { value: ev.value, max: ev.max, node_id: ev.node_id ?? null }, now);
          break;
        case "succeeded": {
          if (ev.stats?.run_ms !== undefined) n.stats.run_ms = ev.stats.run_ms;
          if (ev.stats?.upload_ms !== undefined) n.stats.upload_ms = ev.stats.upload_ms;
          if (checked?.ok !== true) {
            // Over a limit or not what it claims: the job fails and the sweep deletes the objects.
            finish(this.tx, n, "failed", now, checked?.ok === "fail" ? checked.error : null);
            break;
          }
          n.outputs = checked.outputs;
          for (const o of checked.outputs) {
            const { index, node_id, filename, content_type, size } = o;
            this.event(n, "output", { index, node_id, filename, content_type, size }, now);
          }
          finish(this.tx, n, "succeeded", now, null);
          break;
        }
        case "failed":
          if (ev.stats?.run_ms !== undefined) n.stats.run_ms = ev.stats.run_ms;
          if (ev.retryable && n.attempts_counted + 1 < n.max_attempts && !n.cancel_requested) {
            requeue(this.tx, n, now, `retryable failure: ${ev.error.code}`, true);
          } else {
            finish(this.tx, n, "failed", now, ev.error);
          }
          break;
        case "canceled":
          finish(this.tx, n, "canceled", now, null);
          break;
      }
    });
    // The output cache points at a deterministic graph's job once it succeeded with outputs (not at submit:
    // a submit that found a job still running paid a Durable Object call for a miss). A hint: a lost write is a miss.
    if (ev.type === "succeeded" && next.status === "succeeded" && next.cache_hash && next.outputs.length > 0)
      await rememberJob(this.env.LLM_CACHE, next.tenant_id, next.cache_hash, next.id).catch(() => {});
    return { ok: true, status: next.status, cancel: next.cancel_requested };
  }

  /**
   * The images API's stream: the latest preview after number `after` (null if none yet), once one comes,
   * the job ends or `waitMs` passes.
   */
  async nextPreview(tenantId: string, after: number, waitMs: number) {
    const s = this.job;
    if (!s || s.tenant_id !== tenantId) return null;
    await this.waiters.wait(
      waitMs,
      () => TERMINAL.has(this.job?.status ?? "canceled") || !!this.sse.previewAfter(after),
    );
    return { status: this.job?.status ?? "canceled", preview: this.sse.previewAfter(after) };
  }

  /** DELETE /runner/v1/leases/:id: the runner gives the job back; no attempt is counted. */
  async giveBack(attempt: number, pool: string): Promise<FenceResult<{ status: string }>> {
    const f = this.fence(attempt, pool);
    if (!f.ok) return f;
    const next = this.commit((n, now) => {
      if (n.cancel_requested) finish(this.tx, n, "canceled", now, null);
      else requeue(this.tx, n, now, "given back by the runner", false);
    });
    return { ok: true, status: next.status };
  }

  async ackWebhook(eventId: string): Promise<void> {
    this.outbox.ackWebhook(String(eventId));
  }

  async webhookPending(eventId: string, nextAttemptAt: number): Promise<void> {
    if (typeof eventId !== "string" || !Number.isFinite(nextAttemptAt)) return;
    if (this.outbox.webhookPending(eventId, nextAttemptAt)) this.scheduleAlarm(this.job);
  }

  /** The consumer could not fetch an input of dispatch `attempt`: the job fails for good. */
  async inputsFetching(attempt: number, fetching: boolean): Promise<void> {
    const s = this.job;
    if (s?.status !== "queued" || s.next_attempt !== attempt) return;
    if ((s.fetching_inputs === attempt) === fetching) return;
    this.save({ ...s, fetching_inputs: fetching ? attempt : null });
  }

  /** A pool group's job waiting for dispatch `attempt` in `from` moves to member `to` (docs/capabilities.md). */
  async movePool(attempt: number, from: string, to: string): Promise<DispatchMessage | null> {
    const s = this.job;
    if (s?.status !== "queued" || s.next_attempt !== attempt || s.pool !== from) return null;
    if (!s.group?.members.some((m) => m.pool === to)) return null;
    const next = this.commit((n, now) => {
      n.pool = to;
      this.event(n, "queued", { attempt, reason: `moved from pool ${from} to ${to}`, pool: to }, now);
      this.outbox.add({ kind: "index", payload: indexPayload(n) }, now);
      // Re-sends of this dispatch go to the new pool.
      this.outbox.dropKind("dispatch");
      this.outbox.add({ kind: "dispatch", payload: dispatchPayload(n) }, now + this.cfg.redispatchBaseMs);
    });
    return dispatchPayload(next);
  }

  async failDispatch(attempt: number, error: JobError): Promise<void> {
    const s = this.job;
    if (s?.status !== "queued" || s.next_attempt !== attempt) return;
    this.commit((n, now) => finish(this.tx, n, "failed", now, error));
  }
}
