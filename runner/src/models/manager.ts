/**
 * Keeps this runner's models in line with its pool's manifest (docs/models.md): polls the manifest, and when
 * its digest changes (a new manifest or an operator's re-sync) downloads what is missing, then runs the
 * warmup workflow. Slots lease only once the files are present and the warmup passed (`whenLeasable`); the
 * state becomes `ready` (and /readyz 200) only after that, once the gateway has the capability report that
 * lists the files (`announce`), so a job naming a manifest file is accepted from the moment the runner says
 * ready. Every change of state is reported to the gateway (PUT /runner/v1/manifest/status).
 */
import type { PoolManifest, RunnerModelsReport } from "@comfy-edge/shared/contract/models";
import type { ComfyClient } from "../comfy/client.ts";
import { sleep } from "../gateway.ts";
import type { Logger } from "../log.ts";
import type { ModelsApi } from "./api.ts";
import type { DownloadNet } from "./download.ts";
import type { ModelMetrics } from "./metrics.ts";
import type { ModelStore } from "./store.ts";
import { ManifestSync } from "./sync.ts";
import { runWarmup } from "./warmup.ts";

export interface ModelManagerOptions {
  runnerId: string;
  api: ModelsApi;
  store: ModelStore;
  net: DownloadNet;
  /** The ComfyUI that runs the warmup workflow (each slot's ComfyUI shares the model folders). */
  comfy: ComfyClient;
  log: Logger;
  metrics?: ModelMetrics | null;
  /** How often the manifest is fetched. Default 30 s. */
  pollMs?: number;
  warmupPollMs?: number;
  /**
   * Resolves once the gateway holds this runner's capability report built after the last change of its
   * model files (the runner's slots lease with it); rejects when the signal aborts. Awaited before `ready`.
   */
  announce?: (signal: AbortSignal) => Promise<void>;
}

type State = RunnerModelsReport["state"];

export class ModelManager {
  private readonly o: ModelManagerOptions;
  readonly sync: ManifestSync;
  private state: State = "syncing";
  private digest: string | null = null;
  private warmup: RunnerModelsReport["warmup"] = { state: "none", seconds: null, error: null };
  private readonly stopper = new AbortController();
  private wake: (() => void) | null = null;
  /** Files present and warmup passed: slots may lease (`ready` follows once the report is announced). */
  private leasable = false;
  private leasableWaiters: Array<() => void> = [];
  private loopPromise: Promise<void> | null = null;
  private reporting: Promise<void> = Promise.resolve();
  /** The manifest last synced (null before the first). */
  manifest: PoolManifest | null = null;

  constructor(options: ModelManagerOptions) {
    this.o = options;
    this.sync = new ManifestSync({
      store: options.store,
      net: options.net,
      log: options.log,
      metrics: options.metrics,
    });
  }

  get ready(): boolean {
    return this.state === "ready";
  }

  start(): void {
    this.loopPromise ??= this.loop();
  }

  /** Fetch the manifest now (instead of at the next poll). */
  poke(): void {
    this.wake?.();
  }

  /** Resolves once slots may lease (files present, warmup passed); rejects when the signal aborts. */
  whenLeasable(signal: AbortSignal): Promise<void> {
    if (this.leasable) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.leasableWaiters.push(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loopPromise?.catch(() => undefined);
  }

  report(): RunnerModelsReport {
    return {
      runner_id: this.o.runnerId,
      manifest_digest: this.digest,
      state: this.state,
      warmup: this.warmup,
      files: [...this.sync.files.values()].map((f) => ({ ...f })),
    };
  }

  private setState(state: State): void {
    this.state = state;
    if (state === "syncing" || state === "failed") this.leasable = false;
    // One report at a time, in order (each sends the state as it is when it goes out): a slow earlier PUT
    // never lands after a later one.
    this.reporting = this.reporting.then(() =>
      this.o.api.report(this.report(), this.stopper.signal).catch((error: unknown) => {
        if (!this.stopper.signal.aborted) this.o.log.debug("model status report failed", { error });
      }),
    );
  }

  private async loop(): Promise<void> {
    const signal = this.stopper.signal;
    while (!signal.aborted) {
      try {
        await this.once(signal);
      } catch (error) {
        if (signal.aborted) break;
        this.o.log.warn("model sync failed; retrying at the next poll", { error });
        if (this.state !== "failed") this.setState("failed");
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        sleep(this.o.pollMs ?? 30_000, signal).then(resolve, resolve);
      });
      this.wake = null;
    }
  }

  /** One round: fetch the manifest; on a new digest (or after a failure) sync, then warm up. */
  private async once(signal: AbortSignal): Promise<void> {
    const manifest = await this.o.api.manifest(signal);
    if (manifest.digest === this.digest && this.state === "ready") return;
    if (manifest.digest !== this.digest) this.sync.retryAll();
    this.manifest = manifest;
    this.digest = manifest.digest;
    this.setState("syncing");
    const ok = await this.sync.reconcile(manifest.models, signal);
    if (!ok) {
      this.setState("failed");
      return;
    }
    this.setState("synced");
    if (manifest.warmup === null) {
      this.warmup = { state: "none", seconds: null, error: null };
      await this.becomeReady(signal);
      return;
    }
    this.warmup = { state: "running", seconds: null, error: null };
    this.setState("warming_up");
    try {
      const seconds = await runWarmup(this.o.comfy, manifest.warmup.workflow, { signal, pollMs: this.o.warmupPollMs });
      this.o.metrics?.warmupSeconds.set(seconds);
      this.warmup = { state: "passed", seconds, error: null };
      this.o.log.info("warmup passed", { seconds });
    } catch (error) {
      if (signal.aborted) throw error;
      const message = error instanceof Error ? error.message : String(error);
      this.warmup = { state: "failed", seconds: null, error: message.slice(0, 2000) };
      this.o.log.warn("warmup failed; not leasing jobs until it passes", { error: message });
      this.setState("failed");
      return;
    }
    await this.becomeReady(signal);
  }

  /** Lets the slots lease, waits until the gateway has the report listing the files, then says ready. */
  private async becomeReady(signal: AbortSignal): Promise<void> {
    this.leasable = true;
    for (const waiter of this.leasableWaiters.splice(0)) waiter();
    await this.o.announce?.(signal);
    this.setState("ready");
  }
}
