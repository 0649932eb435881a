/**
 * One Durable Object per GPU pool: queued job ids per tenant (round-robin across tenants, so one tenant's
 * 1,000 queued jobs never starve another's one job), runners waiting on long-poll leases (answered the
 * moment a job arrives), running counts for max_running_jobs, and runner liveness for GET /v1/pools.
 * It is not on the path of heartbeats, progress or events: those go to the job's own Durable Object.
 * Storage layout: workers/gateway/STORAGE.md.
 */
import { DurableObject } from "cloudflare:workers";
import type {
  CapabilityReport,
  DispatchMessage,
  DispatchNeeds,
  PoolDispatchRpc,
  PoolPlacement,
} from "@comfy-edge/shared/contract";
import type { PoolCapabilities } from "../capabilities/union.ts";
import { gatewayConfig } from "../config.ts";
import { jobStub } from "../jobs/public.ts";
import type { LeaseGrantInternal } from "../jobs/state.ts";
import { CapabilityStore, type WaitingFor } from "./capability-store.ts";
import { initLoadTables, type PoolMetrics, poolMetrics, queuePlace, recordRun } from "./load.ts";
import { callerAlive, type PollAlive } from "./lost-grant.ts";
import { queuedInOrder } from "./queue-order.ts";
import { disposeRpcResult, takeRpcData } from "./rpc-result.ts";
import { type RunnerRow, runnerRows } from "./runners-view.ts";

/** Default of RUNNER_LIVE_S: a runner is live this long after its last lease call. */
export const RUNNER_LIVE_MS = 90_000;
/** How deep a lease looks into the queue for a job the runner can run. */
const MATCH_SCAN = 500;

export interface RunnerInfo {
  /** The runner token the runner authenticated with: its identity (runner_id is only its own label). */
  token_id: string;
  runner_id: string;
  version: string;
  comfyui_version: string | null;
  slots: number;
  /** Digest of the capability report it leases with (null: an older runner, taken to run anything). */
  digest?: string | null;
}

/** A queued job's place, estimated start and (when no live runner can run it) what it waits for. */
export interface QueueInfo {
  position: number;
  estimated_start_at: number | null;
  waiting_for: WaitingFor | null;
}

interface Waiter {
  runner: RunnerInfo;
  alive?: PollAlive | undefined;
  /** Parked on every shard of a sharded pool at once: asked whether it still wants a job before a grant. */
  shared?: boolean | undefined;
  resolve: (grant: LeaseGrantInternal | null) => void;
}

export interface PoolStats {
  runners: number;
  queued: number;
  running: number;
}

export class PoolDO extends DurableObject<Env> implements PoolDispatchRpc {
  private waiters: Waiter[] = [];
  private pumping = false;
  private readonly caps: CapabilityStore;
  private readonly liveMs: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS queued (job_id TEXT PRIMARY KEY, attempt INTEGER NOT NULL, tenant_id TEXT NOT NULL,
      max_running INTEGER, enqueued_at INTEGER NOT NULL)`);
    sql.exec("CREATE INDEX IF NOT EXISTS queued_tenant ON queued (tenant_id, enqueued_at)");
    sql.exec("CREATE TABLE IF NOT EXISTS dispatched (job_id TEXT PRIMARY KEY, attempt INTEGER NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS rr (tenant_id TEXT PRIMARY KEY, last_served INTEGER NOT NULL)");
    sql.exec(`CREATE TABLE IF NOT EXISTS running (job_id TEXT PRIMARY KEY, attempt INTEGER NOT NULL, tenant_id TEXT NOT NULL,
      runner_id TEXT NOT NULL, since INTEGER NOT NULL)`);
    // Runners are known by (token, the id they give): a runner cannot stand in for another token's runner.
    // (Replaces `runners`, keyed by the self-reported id alone; it only held the last 90 s of liveness.)
    sql.exec("DROP TABLE IF EXISTS runners");
    sql.exec(`CREATE TABLE IF NOT EXISTS runners_seen (token_id TEXT NOT NULL, runner_id TEXT NOT NULL, version TEXT NOT NULL,
      comfyui_version TEXT, slots INTEGER NOT NULL, last_seen INTEGER NOT NULL, PRIMARY KEY (token_id, runner_id))`);
    // What each queued job needs from a runner (JSON DispatchNeeds; NULL: checked against no report).
    if (
      !sql
        .exec<{ name: string }>("PRAGMA table_info(queued)")
        .toArray()
        .some((c) => c.name === "needs")
    )
      sql.exec("ALTER TABLE queued ADD COLUMN needs TEXT");
    this.liveMs = gatewayConfig(env).runnerLiveMs;
    this.caps = new CapabilityStore(sql, this.liveMs);
    initLoadTables(sql);
  }

  /** Idempotent by (job, attempt): duplicates and stale attempts are ignored. */
  async enqueue(msg: DispatchMessage): Promise<"queued" | "duplicate"> {
    const sql = this.ctx.storage.sql;
    const seen = sql
      .exec<{ attempt: number }>("SELECT attempt FROM dispatched WHERE job_id = ?", msg.job_id)
      .toArray()[0];
    const queued = sql
      .exec<{ attempt: number }>("SELECT attempt FROM queued WHERE job_id = ?", msg.job_id)
      .toArray()[0];
    if ((seen && seen.attempt >= msg.attempt) || (queued && queued.attempt >= msg.attempt)) return "duplicate";
    sql.exec(
      `INSERT INTO queued (job_id, attempt, tenant_id, max_running, enqueued_at, needs) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_id) DO UPDATE SET attempt = excluded.attempt`,
      msg.job_id,
      msg.attempt,
      msg.tenant_id,
      msg.max_running,
      Date.now(),
      msg.needs ? JSON.stringify(msg.needs) : null,
    );
    this.ctx.waitUntil(this.pump());
    return "queued";
  }

  /**
   * Attempts up to `attempt` of a job are over (terminal, re-queued, canceled): forget them. A later attempt
   * that is already queued or running (messages may arrive out of order) is left alone.
   */
  async release(jobId: string, attempt: number): Promise<void> {
    const sql = this.ctx.storage.sql;
    const ran = sql
      .exec<{ since: number }>("SELECT since FROM running WHERE job_id = ? AND attempt <= ?", jobId, attempt)
      .toArray()[0];
    if (ran) recordRun(sql, Date.now() - ran.since);
    sql.exec("DELETE FROM running WHERE job_id = ? AND attempt <= ?", jobId, attempt);
    sql.exec("DELETE FROM queued WHERE job_id = ? AND attempt <= ?", jobId, attempt);
    sql.exec("DELETE FROM dispatched WHERE job_id = ? AND attempt <= ?", jobId, attempt);
    this.ctx.waitUntil(this.pump());
  }

  /**
   * Long-poll lease: a grant now, or within `waitMs`, else null; "capabilities_required" when the runner
   * leases with a report digest this pool does not hold (it sends the report, then leases again).
   */
  async lease(
    pool: string,
    runner: RunnerInfo,
    waitMs: number,
    alive?: PollAlive,
    shared?: boolean,
  ): Promise<LeaseGrantInternal | null | "capabilities_required"> {
    if (runner.digest) {
      if (!this.caps.has(runner.digest)) return "capabilities_required";
      this.caps.seen(runner.token_id, runner.runner_id, runner.digest, Date.now());
    }
    this.ctx.storage.sql.exec(
      `INSERT INTO runners_seen (token_id, runner_id, version, comfyui_version, slots, last_seen) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (token_id, runner_id) DO UPDATE SET version = excluded.version,
         comfyui_version = excluded.comfyui_version, slots = excluded.slots, last_seen = excluded.last_seen`,
      runner.token_id,
      runner.runner_id,
      runner.version,
      runner.comfyui_version,
      runner.slots,
      Date.now(),
    );
    // Waiting runners come first; a poll that will not wait (a sharded pool's scan) may take what they cannot run.
    if (this.waiters.length === 0 || waitMs <= 0) {
      const grant = await this.next(pool, runner);
      if (grant || waitMs <= 0) return grant;
    }
    return new Promise<LeaseGrantInternal | null>((resolve) => {
      const waiter: Waiter = {
        runner,
        alive,
        shared,
        resolve: (g) => {
          clearTimeout(timer);
          resolve(g);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(null);
      }, waitMs);
      this.waiters.push(waiter);
      this.ctx.waitUntil(this.pump(pool));
    });
  }

  async stats(): Promise<PoolStats> {
    const sql = this.ctx.storage.sql;
    const one = (q: string, ...args: unknown[]) => sql.exec<{ n: number }>(q, ...args).one().n;
    return {
      runners: one("SELECT COUNT(*) AS n FROM runners_seen WHERE last_seen > ?", Date.now() - this.liveMs),
      queued: one("SELECT COUNT(*) AS n FROM queued"),
      running: one("SELECT COUNT(*) AS n FROM running"),
    };
  }

  /** Stores a runner's capability report (its digest checked by the route). */
  async putCapabilities(digest: string, report: CapabilityReport): Promise<void> {
    this.caps.put(digest, report, Date.now());
  }

  /** The union of the live runners' reports; null when no live runner reports. */
  async capabilities(): Promise<PoolCapabilities | null> {
    return this.caps.capabilities(Date.now());
  }

  /** GET /v1/pools/:name: runners seen in the last day, with the GPU of their last report (runners-view.ts). */
  async runnersView(): Promise<RunnerRow[]> {
    return runnerRows(this.ctx.storage.sql, this.caps, Date.now());
  }

  async metrics(): Promise<PoolMetrics> {
    return poolMetrics(this.ctx.storage.sql, Date.now(), this.liveMs, this.waiters.length);
  }

  /** Pool groups: live runners, whether one can run a job with `needs`, and the wait of a job queued now (in a pool of `shards`). */
  async placement(needs: DispatchNeeds | null, shards = 1): Promise<PoolPlacement> {
    const now = Date.now();
    const m = poolMetrics(this.ctx.storage.sql, now, this.liveMs, this.waiters.length, shards);
    // A runner in a long poll right now is live even when its poll began longer than RUNNER_LIVE_S ago.
    const waiting = this.waiters.some((w) => !needs || !w.runner.digest || !this.caps.missing(w.runner.digest, needs));
    const capable = waiting || (m.live_runners > 0 && (!needs || this.caps.canRun(needs, now)));
    const live = Math.max(m.live_runners, m.waiting_runners);
    return { live_runners: live, capable, estimated_wait_s: m.estimated_wait_s };
  }

  /** A queued job's place and estimated start, and what it waits for if no live runner can run it. */
  async queueInfo(jobId: string, shards = 1): Promise<QueueInfo | null> {
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    const place = queuePlace(sql, jobId, now, this.liveMs, shards);
    if (!place) return null;
    const row = sql.exec<{ needs: string | null }>("SELECT needs FROM queued WHERE job_id = ?", jobId).one();
    return { ...place, waiting_for: row.needs ? this.waitingFor(JSON.parse(row.needs), now) : null };
  }

  /** What no live runner has (null: some live runner can run it, or none reports). */
  private waitingFor(needs: DispatchNeeds, now: number): WaitingFor | null {
    const live = this.caps.liveDigests(now);
    // No live runner, or a live runner without a report (an older runner, which might run it): nothing to say.
    if (live.length === 0 || this.caps.unreported(now) > 0) return null;
    let first: WaitingFor | null = null;
    for (const d of new Set(live)) {
      const miss = this.caps.missing(d, needs);
      if (!miss) return null;
      first ??= miss;
    }
    return first;
  }

  private poolName: string | null = null;

  /** Matches waiting runners with queued jobs until no waiting runner can run a queued job. */
  private async pump(pool?: string): Promise<void> {
    if (pool) this.poolName = pool;
    if (this.pumping || !this.poolName) return;
    this.pumping = true;
    try {
      // Every waiter in turn (longest waiting first): one that cannot run any queued job (capabilities)
      // must not hold the queue back from one behind it that can. Until a pass serves nobody.
      let served = true;
      while (served && this.waiters.length > 0) {
        served = false;
        for (const waiter of [...this.waiters]) {
          if (!this.waiters.includes(waiter)) continue;
          // A poll parked on every shard that another shard has answered: dropped before it takes a job.
          if (waiter.shared && this.firstRunnable(waiter.runner) && !(await callerAlive(waiter.alive))) {
            this.waiters = this.waiters.filter((w) => w !== waiter);
            waiter.resolve(null);
            continue;
          }
          const grant = await this.next(this.poolName, waiter.runner);
          if (!grant) continue;
          this.waiters = this.waiters.filter((w) => w !== waiter);
          served = true;
          const ok = await callerAlive(waiter.alive);
          if (ok) waiter.resolve(grant);
          else await this.lostGrant(waiter, grant);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Lost grant: the runner hung up in the middle of its long poll. The job goes back to its queue at once
   * (the job object re-dispatches it, no attempt counted) instead of running on nobody until lease expiry.
   */
  private async lostGrant(waiter: Waiter, grant: LeaseGrantInternal): Promise<void> {
    waiter.resolve(null);
    const pool = this.poolName ?? "";
    console.warn(JSON.stringify({ level: "warn", msg: "lease poll gone; grant given back", job_id: grant.job_id }));
    try {
      disposeRpcResult(await jobStub(this.env, grant.job_id)?.giveBack(grant.attempt, pool));
    } catch (err) {
      // The job object did not answer: lease expiry re-queues it as before.
      console.error(
        JSON.stringify({ level: "warn", msg: "give-back failed", job_id: grant.job_id, error: String(err) }),
      );
    }
  }

  /**
   * The first queued job (round-robin across tenants, FIFO within one) this runner can run: its report
   * covers the job's classes and models. Looks at most MATCH_SCAN jobs deep (queue-order.ts: no sort).
   */
  private firstRunnable(runner: RunnerInfo) {
    const rows = queuedInOrder(this.ctx.storage.sql, MATCH_SCAN);
    for (const row of rows) {
      const needs = row.needs ? (JSON.parse(row.needs) as DispatchNeeds) : null;
      if (!needs) return row;
      if (runner.digest && this.caps.missing(runner.digest, needs)) continue;
      // A job naming models by URL goes to a waiting runner that already holds them, if one can run it.
      if (needs.url_models?.length && this.heldElsewhere(runner, needs)) continue;
      return row;
    }
    return undefined;
  }

  /** Another waiting runner able to run the job holds its URL models and `runner` does not (docs/models.md). */
  private heldElsewhere(runner: RunnerInfo, needs: DispatchNeeds): boolean {
    const urls = needs.url_models ?? [];
    if (runner.digest && this.caps.holdsUrlModels(runner.digest, urls)) return false;
    return this.waiters.some(
      (w) =>
        w.runner !== runner &&
        !!w.runner.digest &&
        this.caps.holdsUrlModels(w.runner.digest, urls) &&
        !this.caps.missing(w.runner.digest, needs),
    );
  }

  /** Takes the next job (round-robin across tenants, FIFO within one) and asks its DO for the lease. */
  private async next(pool: string, runner: RunnerInfo): Promise<LeaseGrantInternal | null> {
    this.poolName = pool;
    const sql = this.ctx.storage.sql;
    for (;;) {
      const candidate = this.firstRunnable(runner);
      if (!candidate) return null;
      const now = Date.now();
      sql.exec("DELETE FROM queued WHERE job_id = ?", candidate.job_id);
      sql.exec(
        "INSERT INTO dispatched (job_id, attempt) VALUES (?, ?) ON CONFLICT (job_id) DO UPDATE SET attempt = excluded.attempt",
        candidate.job_id,
        candidate.attempt,
      );
      sql.exec(
        "INSERT INTO rr (tenant_id, last_served) VALUES (?, ?) ON CONFLICT (tenant_id) DO UPDATE SET last_served = excluded.last_served",
        candidate.tenant_id,
        now,
      );
      let grant: LeaseGrantInternal | null;
      try {
        const job = jobStub(this.env, candidate.job_id);
        // A plain copy: the job object's RPC result is disposed here, not passed on to the lease's caller
        // (which would then hold this call open until it disposed it; pools/rpc-result.ts).
        grant = job ? await takeRpcData(job.grantLease(candidate.attempt, runner.runner_id, pool)) : null;
      } catch (err) {
        // The job DO did not answer: put the job back and let the caller retry later.
        console.error(
          JSON.stringify({ level: "warn", msg: "grantLease failed", job_id: candidate.job_id, error: String(err) }),
        );
        sql.exec(
          "INSERT INTO queued (job_id, attempt, tenant_id, max_running, enqueued_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING",
          candidate.job_id,
          candidate.attempt,
          candidate.tenant_id,
          candidate.max_running,
          now,
        );
        sql.exec("DELETE FROM dispatched WHERE job_id = ? AND attempt = ?", candidate.job_id, candidate.attempt);
        return null;
      }
      if (grant) {
        sql.exec(
          `INSERT INTO running (job_id, attempt, tenant_id, runner_id, since) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (job_id) DO UPDATE SET attempt = excluded.attempt, runner_id = excluded.runner_id`,
          candidate.job_id,
          candidate.attempt,
          candidate.tenant_id,
          `${runner.token_id}/${runner.runner_id}`,
          now,
        );
        return grant;
      }
      // Refused (canceled, superseded, already leased, or an attempt the job is not waiting for): drop it,
      // and forget it, so that it cannot shadow the dispatch the job does wait for. The job DO stays the
      // judge of every later message.
      sql.exec("DELETE FROM dispatched WHERE job_id = ? AND attempt = ?", candidate.job_id, candidate.attempt);
    }
  }
}
