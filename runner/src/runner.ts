/**
 * The runner: one Slot per ComfyUI URL, a small HTTP server for /healthz, /readyz and /metrics, and a
 * graceful shutdown: stop leasing (idle slots abandon their long poll at once), let running jobs finish for
 * up to the drain timeout, then interrupt them and give them back (DELETE lease). With no job running it
 * ends at once. `close()` is idempotent; `forceStop()` skips the drain.
 */
import type http from "node:http";
import type { AddressInfo } from "node:net";
import type { RunnerConfig } from "./config.ts";
import { GatewayClient, type GatewayError } from "./gateway.ts";
import type { JobResult, JobRun } from "./job.ts";
import { createLogger, type Logger } from "./log.ts";
import { RunnerMetrics } from "./metrics.ts";
import type { ModelRuntime, ModelTuning } from "./models/runtime.ts";
import type { ModelStore } from "./models/store.ts";
import { Slot, type SlotOptions } from "./slot.ts";
import { RUNNER_VERSION } from "./version.ts";

// node:http(s) through getBuiltinModule: an ESM import of node:http also loads undici (building the ESM
// facade reads its lazy fetch/WebSocket exports), about 2 MB and start-up CPU the runner does not use.
const { createServer } = process.getBuiltinModule("node:http");

export interface RunnerOptions {
  config: RunnerConfig;
  log?: Logger;
  /** Overrides for tests and benchmarks (shorter waits). */
  tuning?: Partial<
    Pick<
      SlotOptions,
      | "leaseWaitS"
      | "healthFreshMs"
      | "healthBackoffMaxMs"
      | "historyPollMs"
      | "cancelConfirmMs"
      | "cancelWaitDelayMs"
      | "unreachableGraceMs"
      | "onJobDone"
    >
  >;
  /** Start the /healthz, /readyz, /metrics server (default true). */
  serve?: boolean;
  /** Model assets overrides (tests, benchmarks): resolver, transport, poll interval. */
  models?: ModelTuning;
}

interface ModelAssets {
  module: typeof import("./models/runtime.ts");
  store: ModelStore;
}

export class Runner {
  readonly config: RunnerConfig;
  readonly log: Logger;
  readonly metrics: RunnerMetrics;
  readonly slots: Slot[];
  readonly gateway: GatewayClient;
  /** Model assets (docs/models.md); null without COMFYUI_MODELS_DIR. */
  readonly models: ModelRuntime | null;
  private server: http.Server | null = null;
  private closing: Promise<void> | null = null;
  private forced = false;
  private forceController = new AbortController();
  private startedAt = Date.now();
  private refusedToken: ((err: GatewayError) => void) | null = null;
  /** Resolves if the gateway refuses the runner token (401): the runner cannot work and should exit. */
  readonly tokenRefused: Promise<GatewayError>;

  private constructor(options: RunnerOptions, assets: ModelAssets | null) {
    this.config = options.config;
    this.log = options.log ?? createLogger({ level: options.config.logLevel, secrets: [options.config.runnerToken] });
    this.metrics = new RunnerMetrics();
    this.gateway = new GatewayClient({ baseUrl: this.config.gatewayUrl, token: this.config.runnerToken });
    // Ready only once some slot has leased with a capability report listing the synced files (models/manager.ts).
    const announce = (signal: AbortSignal) => Promise.any(this.slots.map((s) => s.capabilitiesAnnounced(signal)));
    this.models =
      assets?.module.createModelRuntime(
        assets.store,
        this.config,
        this.log,
        this.metrics.registry,
        { announce },
        options.models,
      ) ?? null;
    this.tokenRefused = new Promise((resolve) => {
      this.refusedToken = resolve;
    });
    this.slots = this.config.comfyUrls.map(
      (comfyUrl, index) =>
        new Slot({
          index,
          comfyUrl,
          gateway: this.gateway,
          runnerId: this.config.runnerId,
          version: RUNNER_VERSION,
          slots: this.config.comfyUrls.length,
          maxInputBytes: this.config.maxInputBytes,
          jobTimeoutS: this.config.jobTimeoutS,
          folders: this.config.comfyFolders[index] ?? null,
          log: this.log,
          metrics: this.metrics,
          onTokenRefused: (err) => this.refusedToken?.(err),
          beforeLease: this.models?.beforeLease,
          urlModels: this.models?.urlModels ?? null,
          ...options.tuning,
        }),
    );
    this.metrics.slotsTotal.set(this.slots.length);
    if (this.models) {
      this.models.store.onChange = () => {
        for (const slot of this.slots) slot.modelsChanged();
      };
    }
  }

  /** Starts the slots (and the health/metrics server). Resolves once the server listens. */
  static async start(options: RunnerOptions): Promise<Runner> {
    // The model-asset modules (manifest sync, downloads, warmup: about 1.4 MB of memory) load only with
    // COMFYUI_MODELS_DIR set; a runner without it never uses them.
    let assets: ModelAssets | null = null;
    if (options.config.modelsDir !== null) {
      const module = await import("./models/runtime.ts");
      const store = await module.openModelStore(options.config);
      if (store) assets = { module, store };
    }
    const runner = new Runner(options, assets);
    if (options.serve !== false) await runner.listen();
    runner.log.info("runner started", {
      runner_id: runner.config.runnerId,
      version: RUNNER_VERSION,
      gateway: runner.config.gatewayUrl,
      comfyui: runner.config.comfyUrls,
      metrics_port: runner.port,
    });
    if (runner.config.comfyFolders.some((f) => f === null)) {
      runner.log.warn(
        "COMFYUI_DIR is not set: jobs' inputs and outputs stay in ComfyUI's folders on this host (set it to ComfyUI's folder so the runner removes each job's files once they are uploaded)",
      );
    }
    runner.models?.manager.start();
    for (const slot of runner.slots) void slot.start();
    return runner;
  }

  /** The health/metrics server's port (null when not serving). */
  get port(): number | null {
    const address = this.server?.address();
    return address && typeof address === "object" ? (address as AddressInfo).port : null;
  }

  /** Ready: models synced and warmed up (with COMFYUI_MODELS_DIR), not stopping, some slot's ComfyUI up and free. */
  get ready(): boolean {
    if (this.models !== null && !this.models.manager.ready) return false;
    return this.closing === null && this.slots.some((s) => s.comfyUp && !s.busy);
  }

  status(): Record<string, unknown> {
    return {
      runner_id: this.config.runnerId,
      version: RUNNER_VERSION,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      stopping: this.closing !== null,
      slots: this.slots.map((s) => ({
        index: s.index,
        comfyui: s.comfy.baseUrl,
        comfyui_up: s.comfyUp,
        comfyui_version: s.comfyuiVersion,
        state: s.state,
        job_id: s.current?.jobId ?? null,
        jobs_done: s.jobsDone,
      })),
      models: this.models?.manager.report() ?? null,
    };
  }

  private listen(): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD" }).end();
        return;
      }
      if (path === "/healthz") return json(200, { ok: true, ...this.status() });
      if (path === "/readyz") return json(this.ready ? 200 : 503, { ready: this.ready, ...this.status() });
      if (path === "/metrics") {
        this.metrics.text().then(
          (text) => {
            res.writeHead(200, { "content-type": this.metrics.contentType });
            res.end(text);
          },
          () => json(500, { error: "metrics failed" }),
        );
        return;
      }
      json(404, { error: "not found", paths: ["/healthz", "/readyz", "/metrics"] });
    });
    server.keepAliveTimeout = 5_000;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.config.metricsPort, this.config.metricsHost, () => {
        server.off("error", reject);
        resolve();
      });
    });
  }

  /** Running jobs. */
  get jobs(): JobRun[] {
    return this.slots.flatMap((s) => (s.current ? [s.current] : []));
  }

  /**
   * Graceful shutdown (idempotent): stop leasing (an idle slot's long poll is abandoned at once); wait up to
   * `drainMs` (default DRAIN_TIMEOUT_S) for running jobs; then interrupt them in ComfyUI and give them back.
   */
  close(options: { drainMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutdown(options.drainMs ?? this.config.drainTimeoutS * 1000);
    return this.closing;
  }

  /** Second signal: skip the drain; jobs are interrupted and given back at once. */
  forceStop(): Promise<void> {
    this.forced = true;
    this.forceController.abort();
    for (const job of this.jobs) job.stop("shutdown");
    return this.close({ drainMs: 0 });
  }

  private async shutdown(drainMs: number): Promise<void> {
    const busy = this.jobs.length;
    this.log.info("runner stopping", { running_jobs: busy, drain_ms: drainMs });
    const abort = this.forced || drainMs <= 0;
    // An idle slot has nothing to drain: its long poll is abandoned now (a job the gateway grants it anyway
    // is caught by the pool's lost-grant check, docs/runner.md). A busy slot finishes its job first.
    for (const slot of this.slots) slot.stopLeasing({ abort: abort || !slot.busy });
    const all = Promise.all(this.slots.map((s) => s.finished()));
    if (!abort) {
      // Running jobs finish and idle long-polls return (a job granted meanwhile is given back).
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        all.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), drainMs);
          this.forceController.signal.addEventListener("abort", () => resolve(false), { once: true });
        }),
      ]);
      clearTimeout(timer);
      if (!drained) {
        this.log.warn("drain timeout reached: interrupting running jobs and giving them back", {
          running_jobs: this.jobs.length,
        });
      }
    }
    for (const slot of this.slots) slot.stopLeasing({ abort: true });
    for (const job of this.jobs) job.stop("shutdown");
    await all;
    for (const slot of this.slots) slot.closeSocket();
    await this.models?.manager.stop();
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.log.info("runner stopped");
  }
}

export type { JobResult };
