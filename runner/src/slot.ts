/**
 * One slot = one ComfyUI instance = one job at a time. The loop (graphile-worker / BullMQ style):
 * check ComfyUI -> long-poll a lease -> run the job (which always ends by reporting or giving it back) ->
 * again. While ComfyUI is down the slot does not lease: it reports unhealthy and re-checks with backoff.
 */
import { randomBytes } from "node:crypto";
import { backoffMs } from "@comfy-edge/shared/backoff";
import type { CapabilitiesPut, LeaseGrant } from "@comfy-edge/shared/contract/runner";
import { ComfyCapabilities, publishCapabilities } from "./capabilities.ts";
import { CapabilityAnnouncements } from "./capabilities-announce.ts";
import type { ComfyFolders } from "./cleanup.ts";
import { ComfyClient } from "./comfy/client.ts";
import { NodeSchemas } from "./comfy/schemas.ts";
import { ComfySocket } from "./comfy/socket.ts";
import { type GatewayClient, GatewayError, sleep } from "./gateway.ts";
import { HttpError } from "./http.ts";
import { type JobResult, JobRun } from "./job.ts";
import type { Logger } from "./log.ts";
import type { RunnerMetrics } from "./metrics.ts";
import { JobModels } from "./models/job-hook.ts";
import type { UrlModels } from "./models/url-models.ts";

export type SlotState = "starting" | "unhealthy" | "leasing" | "busy" | "stopped";

export interface SlotOptions {
  index: number;
  comfyUrl: string;
  gateway: GatewayClient;
  runnerId: string;
  version: string;
  /** Total slots of this runner (sent with each lease request). */
  slots: number;
  maxInputBytes: number;
  jobTimeoutS: number;
  /** This ComfyUI's folders on this host (COMFYUI_DIR): each job's files are removed from them. */
  folders: ComfyFolders | null;
  log: Logger;
  metrics: RunnerMetrics | null;
  /** Long-poll length (<= 25). */
  leaseWaitS?: number;
  /** Skip /system_stats before a lease if ComfyUI answered within this long and the websocket is open. */
  healthFreshMs?: number;
  healthBackoffMaxMs?: number;
  historyPollMs?: number;
  cancelConfirmMs?: number;
  cancelWaitDelayMs?: number;
  unreachableGraceMs?: number;
  /** The gateway answered 401 (invalid or revoked token): the slot has stopped leasing. */
  onTokenRefused?: (err: GatewayError) => void;
  /** Called after each job (tests, benchmarks). */
  onJobDone?: (result: JobResult, job: JobRun) => void;
  /** Model assets (docs/models.md): awaited before each lease (manifest synced, warmup passed). */
  beforeLease?: (signal: AbortSignal) => Promise<void>;
  /** Downloads model inputs given as URLs; null/absent: such inputs go to ComfyUI as they are. */
  urlModels?: UrlModels | null;
}

export class Slot {
  readonly index: number;
  readonly comfy: ComfyClient;
  readonly socket: ComfySocket;
  private readonly schemas: NodeSchemas;
  /** This ComfyUI's capability report (docs/capabilities.md): its digest goes with every lease. */
  private readonly capabilities: ComfyCapabilities;
  state: SlotState = "starting";
  comfyUp = false;
  comfyuiVersion: string | null = null;
  current: JobRun | null = null;
  jobsDone = 0;
  private readonly options: SlotOptions;
  private readonly log: Logger;
  private stopping = false;
  /** Abandons an in-flight long-poll (drain timeout reached, or forced). */
  private readonly leaseAbort = new AbortController();
  /** Ends backoff sleeps as soon as the runner stops. */
  private readonly stopSleeps = new AbortController();
  private lastHealthyAt = 0;
  private healthFailures = 0;
  private leaseFailures = 0;
  private loopPromise: Promise<void> | null = null;
  /** Changes of this host's model files and which of them the gateway has heard of. */
  private readonly announcements = new CapabilityAnnouncements();

  constructor(options: SlotOptions) {
    this.options = options;
    this.index = options.index;
    this.log = options.log.child({ slot: options.index });
    this.comfy = new ComfyClient(options.comfyUrl);
    this.schemas = new NodeSchemas(this.comfy);
    this.capabilities = new ComfyCapabilities(options.comfyUrl, 1, this.log);
    this.socket = new ComfySocket({
      baseUrl: options.comfyUrl,
      clientId: `comfy-edge-${options.runnerId.slice(0, 40)}-${options.index}-${randomBytes(4).toString("hex")}`,
      log: this.log,
    });
    let opens = 0;
    this.socket.subscribe({
      open: () => {
        opens += 1;
        if (opens > 1) options.metrics?.wsReconnects.inc({ slot: String(this.index) });
        if (!this.comfyUp) void this.probe();
      },
      close: () => {
        // ComfyUI may have gone away: re-check now (for /readyz) and before the next lease.
        this.lastHealthyAt = 0;
        void this.probe();
      },
    });
    options.metrics?.comfyUp.set({ slot: String(this.index) }, 0);
  }

  get busy(): boolean {
    return this.current !== null;
  }

  start(): Promise<void> {
    this.socket.start();
    this.loopPromise ??= this.loop();
    return this.loopPromise;
  }

  /**
   * Stops leasing; a running job continues (see Runner.shutdown). `abort` abandons the long poll (the runner
   * does so for an idle slot, and for all at the drain timeout or a forced stop); without it the poll may
   * finish, and a job granted by it is given back at once. A job the gateway grants an abandoned poll is
   * given back by the pool's lost-grant check where the platform passes the hang-up on (docs/runner.md).
   */
  stopLeasing(options: { abort?: boolean } = {}): void {
    this.stopping = true;
    this.stopSleeps.abort();
    if (options.abort) this.leaseAbort.abort(new HttpError("aborted", "the runner is stopping"));
  }

  /** Resolves when the loop has exited (after the current job, if any). */
  finished(): Promise<void> {
    return this.loopPromise ?? Promise.resolve();
  }

  closeSocket(): void {
    this.socket.close();
  }

  private probing = false;

  /** Refreshes comfyUp in the background (socket opened or closed). */
  private async probe(): Promise<void> {
    if (this.probing || this.stopping) return;
    this.probing = true;
    try {
      const stats = await this.comfy.systemStats(AbortSignal.timeout(5_000));
      this.comfyuiVersion = stats.comfyuiVersion;
      this.lastHealthyAt = Date.now();
      this.setUp(true);
    } catch {
      this.setUp(false);
    } finally {
      this.probing = false;
    }
  }

  private announced = false;

  private setUp(up: boolean): void {
    if (up !== this.comfyUp || !this.announced) {
      this.announced = true;
      if (up) this.log.info("comfyui is reachable", { comfyui: this.comfy.baseUrl, version: this.comfyuiVersion });
      else this.log.warn("comfyui is not reachable; not taking jobs until it is back", { comfyui: this.comfy.baseUrl });
    }
    this.comfyUp = up;
    this.options.metrics?.comfyUp.set({ slot: String(this.index) }, up ? 1 : 0);
  }

  /** GET /system_stats unless ComfyUI answered very recently and the websocket is open. */
  private async healthy(): Promise<boolean> {
    const fresh = this.options.healthFreshMs ?? 15_000;
    if (this.comfyUp && this.socket.isOpen && Date.now() - this.lastHealthyAt < fresh) return true;
    try {
      const stats = await this.comfy.systemStats(
        AbortSignal.any([AbortSignal.timeout(10_000), this.stopSleeps.signal]),
      );
      this.comfyuiVersion = stats.comfyuiVersion;
      this.lastHealthyAt = Date.now();
      this.healthFailures = 0;
      this.setUp(true);
      this.socket.nudge();
      return true;
    } catch (err) {
      if (this.stopping) return false;
      this.healthFailures += 1;
      this.setUp(false);
      const delay = backoffMs(this.healthFailures, { baseMs: 250, maxMs: this.options.healthBackoffMaxMs ?? 15_000 });
      this.log.debug("comfyui health check failed", { error: err, retry_in_ms: delay });
      await sleep(delay, this.stopSleeps.signal).catch(() => {});
      return false;
    }
  }

  /** The slot's loop; an unexpected error (a bug) is logged and the loop goes on after a pause. */
  private async loop(): Promise<void> {
    try {
      while (!this.stopping) {
        try {
          await this.leaseLoop();
        } catch (err) {
          this.log.error("slot loop failed; continuing", {
            error: err,
            stack: err instanceof Error ? err.stack : undefined,
          });
          await sleep(1_000, this.stopSleeps.signal).catch(() => {});
        }
      }
    } finally {
      this.state = "stopped";
    }
  }

  /**
   * Model files changed on this host (docs/models.md): the capability report is rebuilt before the next lease,
   * and that lease is a short one (wait_s 0), so the gateway records the new report at once.
   */
  modelsChanged(): void {
    this.announcements.changed();
    this.capabilities.invalidate();
  }

  /**
   * Resolves once the gateway has answered a lease of this slot made with a capability report built after
   * the model files' last change (now); rejects when the signal aborts. A report that could not be built
   * (ComfyUI's /object_info failing) counts as announced: the slot leases without it, as it always did.
   */
  capabilitiesAnnounced(signal: AbortSignal): Promise<void> {
    return this.announcements.whenAnnounced(signal);
  }

  /** The capability digest, unless the runner stops first (the build reads ComfyUI in a child process). */
  private async currentDigest(): Promise<string | null> {
    const signal = this.stopSleeps.signal;
    if (signal.aborted) return null;
    let onStop = () => {};
    const stopped = new Promise<null>((resolve) => {
      onStop = () => resolve(null);
      signal.addEventListener("abort", onStop, { once: true });
    });
    try {
      return await Promise.race([this.capabilities.digest(this.comfyuiVersion), stopped]);
    } finally {
      signal.removeEventListener("abort", onStop);
    }
  }

  private async leaseLoop(): Promise<void> {
    const o = this.options;
    while (!this.stopping) {
      if (!(await this.healthy())) continue;
      if (o.beforeLease) await o.beforeLease(this.stopSleeps.signal).catch(() => undefined);
      if (this.stopping) break;
      const generation = this.announcements.current;
      const digest = await this.currentDigest();
      if (this.stopping) break;
      // A report the gateway has not seen with this slot yet goes with a short lease (answered at once):
      // its answer tells that the pool has recorded it, so waiting for the long poll's end is never needed.
      const news = this.announcements.isNew(digest);
      if (!news) this.announcements.announce(generation);
      this.state = "leasing";
      const askedAt = Date.now();
      let grant: LeaseGrant | null;
      try {
        grant = await o.gateway.lease(
          {
            runner_id: o.runnerId,
            version: o.version,
            comfyui_version: this.comfyuiVersion,
            slots: o.slots,
            wait_s: news ? 0 : (o.leaseWaitS ?? 20),
            capabilities_digest: digest ?? undefined,
          },
          this.leaseAbort.signal,
        );
        this.leaseFailures = 0;
        this.announcements.acknowledged(digest, generation);
      } catch (err) {
        if (this.stopping) break;
        if (err instanceof GatewayError && err.status === 401) {
          // An invalid or revoked token never starts working: stop (the runner exits) instead of retrying
          // forever and spending the gateway's budget for bad credentials.
          this.stopping = true;
          o.onTokenRefused?.(err);
          break;
        }
        // The gateway lacks this ComfyUI's capability report: send it, then lease again.
        if (err instanceof GatewayError && err.code === "capabilities_required") {
          const put = (body: CapabilitiesPut) => o.gateway.putCapabilities(body, { signal: this.stopSleeps.signal });
          if (await publishCapabilities(this.capabilities, put, this.log)) continue;
        }
        // A gateway from before capabilities refuses the field (400): lease without it from now on.
        if (err instanceof GatewayError && err.status === 400 && err.message.includes("capabilities_digest")) {
          this.capabilities.disable();
          continue;
        }
        this.leaseFailures += 1;
        o.metrics?.gatewayErrors.inc({ call: "lease" });
        const auth = err instanceof GatewayError && err.status === 403;
        const delay = backoffMs(this.leaseFailures, { baseMs: 500, maxMs: auth ? 60_000 : 15_000 });
        this.log[auth || this.leaseFailures % 10 === 1 ? "error" : "warn"](
          auth ? "the gateway refused the runner token" : "asking the gateway for a job failed",
          { error: err, retry_in_ms: delay },
        );
        await sleep(delay, this.stopSleeps.signal).catch(() => {});
        continue;
      }
      if (!grant) continue;
      o.metrics?.leaseWaitSeconds.observe((Date.now() - askedAt) / 1000);
      // ComfyUI may have gone away during the long-poll: give the job back rather than fail it.
      if (this.stopping || (!this.socket.isOpen && !(await this.stillHealthy()))) {
        await this.giveBack(grant, this.stopping ? "the runner is stopping" : "comfyui is not reachable");
        continue;
      }
      await this.runJob(grant);
    }
  }

  private async stillHealthy(): Promise<boolean> {
    try {
      await this.comfy.systemStats(AbortSignal.timeout(5_000));
      return true;
    } catch {
      this.setUp(false);
      return false;
    }
  }

  private async giveBack(grant: LeaseGrant, why: string): Promise<void> {
    try {
      await this.options.gateway.giveBack(grant.lease.id, { timeoutMs: 15_000 });
      this.log.info("job given back", { job_id: grant.job.id, why });
    } catch (err) {
      this.log.warn("could not give a job back; it will be re-dispatched when its lease expires", {
        job_id: grant.job.id,
        error: err,
      });
    }
  }

  private async runJob(grant: LeaseGrant): Promise<void> {
    const o = this.options;
    const models = new JobModels(o.urlModels ?? null);
    const job = new JobRun(grant, {
      models,
      gateway: o.gateway,
      comfy: this.comfy,
      socket: this.socket,
      log: this.log,
      metrics: o.metrics,
      maxInputBytes: o.maxInputBytes,
      jobTimeoutS: o.jobTimeoutS,
      schemas: this.schemas,
      folders: o.folders,
      historyPollMs: o.historyPollMs,
      cancelConfirmMs: o.cancelConfirmMs,
      cancelWaitDelayMs: o.cancelWaitDelayMs,
      unreachableGraceMs: o.unreachableGraceMs,
      onComfyDown: () => {
        this.lastHealthyAt = 0;
        this.setUp(false);
      },
    });
    this.current = job;
    this.state = "busy";
    o.metrics?.slotsBusy.inc();
    let result: JobResult = "unreported";
    try {
      result = await job.run();
    } finally {
      models.release();
      this.current = null;
      this.jobsDone += 1;
      o.metrics?.slotsBusy.dec();
      o.onJobDone?.(result, job);
    }
  }
}
