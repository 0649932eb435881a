/**
 * One leased job, start to end: inputs -> ComfyUI -> outputs -> the terminal event. `run()` never throws:
 * whatever happens it ends by reporting succeeded / failed / canceled, giving the job back (shutdown), or
 * dropping it (lease lost: another attempt owns it). The LeaseKeeper keeps the lease until that end; a cancel
 * (cancel-wait, heartbeat or event ack) takes the prompt out of ComfyUI.
 */
import { randomUUID } from "node:crypto";
import type { LeaseGrant } from "@comfy-edge/shared/contract/runner";
import { type ComfyFolders, removeRunLeftovers } from "./cleanup.ts";
import type { ComfyClient } from "./comfy/client.ts";
import { executionError, partialPromptError } from "./comfy/errors.ts";
import { type CollectedOutput, collectOutputs, type PromptOutcome } from "./comfy/history.ts";
import { stopPrompt, waitSettled } from "./comfy/prompt-control.ts";
import type { NodeSchemas } from "./comfy/schemas.ts";
import type { ComfySocket } from "./comfy/socket.ts";
import { PromptWatcher } from "./comfy/watcher.ts";
import { newRunFolder, rewriteWorkflow, type UploadedInput } from "./comfy/workflow.ts";
import { type GatewayClient, LeaseLostError } from "./gateway.ts";
import { uploadInputs } from "./inputs.ts";
import { failureOf, interruptedFailure, OUTPUT_LOST, rejectedPromptFailure } from "./job-errors.ts";
import { JobFailure } from "./job-failure.ts";
import { type JobResult, reportEnd, type Terminal } from "./job-report.ts";
import { LeaseKeeper } from "./lease-keeper.ts";
import type { Logger } from "./log.ts";
import type { RunnerMetrics } from "./metrics.ts";
import { PremintedUploads, uploadOutputs, uploadWsImages } from "./outputs.ts";
import { EventReporter } from "./reporter.ts";

export { JobFailure, type JobResult };
export type StopReason = "cancel" | "lease_lost" | "shutdown" | "timeout";

export interface JobDeps {
  gateway: GatewayClient;
  comfy: ComfyClient;
  socket: ComfySocket;
  log: Logger;
  metrics: RunnerMetrics | null;
  maxInputBytes: number;
  jobTimeoutS: number;
  /** Which node classes take a filename_prefix (asked of this slot's ComfyUI). */
  schemas: NodeSchemas;
  /** ComfyUI's folders on this host: the run's files are removed from them at its end (null: left there). */
  folders: ComfyFolders | null;
  /** Called when the job found ComfyUI unreachable (the slot re-checks its health before leasing). */
  onComfyDown?: () => void;
  historyPollMs?: number;
  /** When the first cancel-wait long poll starts (default 500 ms after the lease). */
  cancelWaitDelayMs?: number;
  /** How long a cancel waits for ComfyUI to confirm the prompt stopped. */
  cancelConfirmMs?: number;
  unreachableGraceMs?: number;
  models: import("./models/job-hook.ts").JobModels; // model inputs given as URLs (docs/models.md)
}

class StopSignal extends Error {
  readonly reason: StopReason;
  constructor(reason: StopReason) {
    super(`job stopped: ${reason}`);
    this.name = "StopSignal";
    this.reason = reason;
  }
}
const WS_OUTPUT_TYPES = new Set(["SaveImageWebsocket"]);

export class JobRun {
  readonly jobId: string;
  readonly leaseId: string;
  readonly attempt: number;
  private readonly grant: LeaseGrant;
  private readonly deps: JobDeps;
  private readonly log: Logger;
  private readonly stopController = new AbortController();
  /** Cuts waits short once the runner is shutting down (even while a cancel is being confirmed). */
  private readonly hurry = new AbortController();
  private stopReason: StopReason | null = null;
  private readonly stopped: Promise<never>;
  private rejectStopped!: (err: StopSignal) => void;
  private readonly reporter: EventReporter;
  private readonly leaseMs: number;
  private readonly keeper: LeaseKeeper;
  private watcher: PromptWatcher | null = null;
  private promptMaybePosted = false;
  private readonly startedAt = Date.now();
  private stats: { queue_ms?: number; run_ms?: number; upload_ms?: number } = {};
  private done = false;
  /** This run's subfolder of ComfyUI's input and output folders (random: unguessable, removed at the end). */
  readonly runFolder = newRunFolder();
  /** Inputs ComfyUI stored for this run. */
  private readonly uploadedInputs: UploadedInput[] = [];

  constructor(grant: LeaseGrant, deps: JobDeps) {
    this.grant = grant;
    this.deps = deps;
    this.jobId = grant.job.id;
    this.leaseId = grant.lease.id;
    this.attempt = grant.lease.attempt;
    this.log = deps.log.child({ job_id: this.jobId, attempt: this.attempt });
    this.leaseMs = Math.max(1, grant.lease.duration_s) * 1000;
    this.stopped = new Promise<never>((_, reject) => {
      this.rejectStopped = reject;
    });
    this.stopped.catch(() => {});
    this.reporter = new EventReporter(deps.gateway, this.leaseId, this.log, {
      onAck: (ack) => {
        if (ack.cancel) this.stop("cancel");
      },
      onLeaseLost: () => this.stop("lease_lost"),
    });
    this.keeper = new LeaseKeeper({
      gateway: deps.gateway,
      leaseId: this.leaseId,
      leaseMs: this.leaseMs,
      log: this.log,
      metrics: deps.metrics,
      onCancel: () => this.stop("cancel"),
      onLeaseLost: () => this.stop("lease_lost"),
      cancelWaitDelayMs: deps.cancelWaitDelayMs,
    });
  }

  /** Why the job is stopping, if it is. */
  get stopping(): StopReason | null {
    return this.stopReason;
  }

  /** Asks the job to stop. The first reason wins, except that a lost lease overrides everything. */
  stop(reason: StopReason): void {
    if (reason === "shutdown") this.hurry.abort();
    if (this.done) return;
    if (this.stopReason !== null) {
      if (reason === "lease_lost" && this.stopReason !== "lease_lost") {
        this.stopReason = "lease_lost";
        this.hurry.abort();
      }
      return;
    }
    this.stopReason = reason;
    if (reason === "lease_lost") this.hurry.abort();
    this.log.info("stopping the job", { reason });
    const signal = new StopSignal(reason);
    this.stopController.abort(signal);
    this.rejectStopped(signal);
  }

  // ---- the job ------------------------------------------------------------------------------------

  /** Runs the job to its end. Never throws. */
  async run(): Promise<JobResult> {
    this.log.info("job leased", {
      lease_expires_at: this.grant.lease.expires_at,
      inputs: this.grant.inputs.length,
      run_folder: this.runFolder,
    });
    this.keeper.start();
    const limitS = Math.min(this.deps.jobTimeoutS, this.grant.job.timeout_s ?? Number.POSITIVE_INFINITY);
    const deadline = setTimeout(() => this.stop("timeout"), limitS * 1000);
    let terminal: Terminal = {
      type: "failed",
      error: { code: "runner_error", message: "The runner stopped unexpectedly." },
      retryable: true,
    };
    let result: JobResult = "unreported";
    try {
      terminal = await this.execute();
    } catch (err) {
      terminal = await this.fromError(err, limitS);
    } finally {
      clearTimeout(deadline);
      await this.removeFiles();
      try {
        result = await this.complete(terminal);
      } catch (err) {
        this.log.error("completing the job failed", { error: err });
      }
      this.done = true;
      this.keeper.stop();
      this.watcher?.dispose();
      this.deps.metrics?.jobSeconds.observe({ phase: "total" }, (Date.now() - this.startedAt) / 1000);
      this.deps.metrics?.jobs.inc({
        outcome: result === "unreported" ? "failed" : result,
        code: terminal.type === "failed" ? terminal.error.code : "",
      });
    }
    return result;
  }

  /** Awaits `promise` unless the job is told to stop first. */
  private guard<T>(promise: Promise<T>): Promise<T> {
    promise.catch(() => {});
    return Promise.race([promise, this.stopped]);
  }

  private get signal(): AbortSignal {
    return this.stopController.signal;
  }

  private async execute(): Promise<Terminal> {
    const { comfy, socket } = this.deps;
    // 1. Inputs: presigned GETs from the gateway's storage (never a client URL) -> ComfyUI /upload/image,
    //    into the run's own subfolder.
    const uploaded = await this.guard(
      uploadInputs(this.grant.inputs, {
        comfy,
        maxInputBytes: this.deps.maxInputBytes,
        runFolder: this.runFolder,
        log: this.log,
        signal: this.signal,
        onUploaded: (_, file) => this.uploadedInputs.push(file),
      }),
    );

    // 2. The workflow as ComfyUI gets it: URL models downloaded, uploaded names, output prefixes, seeds for -1.
    this.grant.job.workflow = await this.guard(this.deps.models.prepare(this.grant.job.workflow, this.signal));
    const prefixNodes = await this.guard(this.deps.schemas.prefixNodes(this.grant.job.workflow, this.signal));
    const { workflow, seeds } = rewriteWorkflow(this.grant.job.workflow, {
      runFolder: this.runFolder,
      prefixNodes,
      inputs: uploaded,
    });
    const wsOutputNodes = new Set(
      Object.entries(workflow)
        .filter(([, node]) => WS_OUTPUT_TYPES.has(node.class_type))
        .map(([id]) => id),
    );

    // 3. Queue it, listening before posting (our own prompt id, so no message is missed and a lost answer
    //    can be reconciled).
    const promptId = randomUUID();
    const watcher = new PromptWatcher({
      comfy,
      socket,
      promptId,
      log: this.log,
      onProgress: (p) => this.reporter.progress(p),
      onPreview: (p) => this.reporter.preview(p),
      wsOutputNodes,
      pollMs: this.deps.historyPollMs,
      unreachableGraceMs: this.deps.unreachableGraceMs,
    });
    this.watcher = watcher;
    watcher.attach();
    if (!socket.isOpen) await this.guard(socket.waitOpen(2_000, this.signal));
    this.promptMaybePosted = true;
    const postedAt = Date.now();
    const posted = await this.guard(comfy.postPrompt(workflow, socket.clientId, promptId, this.signal));
    if (posted.kind === "rejected") {
      this.promptMaybePosted = false;
      if (posted.status !== 400)
        this.log.warn("comfyui refused the prompt", { status: posted.status, body: posted.text });
      return { type: "failed", ...rejectedPromptFailure(posted) };
    }
    watcher.markPosted();
    if (Object.keys(posted.nodeErrors).length > 0) {
      // ComfyUI would run only the valid outputs: take the prompt back and fail naming the invalid nodes.
      await this.stopPrompt();
      return { type: "failed", error: partialPromptError(posted.nodeErrors), retryable: false };
    }
    this.log.debug("prompt queued", { prompt_id: promptId });
    // `started` (with the prompt id and the seeds chosen for -1) at once: it is the job's public `started` event.
    this.reporter.started(promptId, Object.keys(seeds).length > 0 ? seeds : undefined);

    // 4. Wait for the end (websocket, /history, /queue).
    const outcome = await this.guard(watcher.outcome);
    this.recordRunStats(outcome, postedAt);
    if (outcome.status === "error") {
      const { error, retryable, traceback } = executionError(outcome.data);
      this.log.warn("comfyui failed the prompt", {
        prompt_id: promptId,
        node_id: error.node_id,
        node_type: error.node_type,
        error_message: error.message,
        traceback,
      });
      return { type: "failed", error, retryable };
    }
    if (outcome.status === "interrupted") return { type: "failed", ...interruptedFailure(outcome.nodeId) };
    if (wsOutputNodes.size > 0 && watcher.wsGap) return { type: "failed", ...OUTPUT_LOST };

    // 5. Outputs: every file in /history (and websocket images), streamed to presigned PUTs.
    const items: CollectedOutput[] = collectOutputs(await this.guard(watcher.outputs(this.signal)));
    const uploadStart = Date.now();
    const preminted = new PremintedUploads(this.grant.uploads); // URLs minted with the lease: no round trip each
    const refs = await this.guard(
      uploadOutputs(items, {
        preminted,
        gateway: this.deps.gateway,
        comfy,
        leaseId: this.leaseId,
        output: this.grant.job.output ?? null,
        log: this.log,
        signal: this.signal,
      }),
    );
    const wsRefs = await this.guard(
      uploadWsImages(watcher.wsImages, {
        preminted,
        gateway: this.deps.gateway,
        leaseId: this.leaseId,
        signal: this.signal,
      }),
    );
    this.stats.upload_ms = Date.now() - uploadStart;
    this.deps.metrics?.jobSeconds.observe({ phase: "upload" }, this.stats.upload_ms / 1000);
    return { type: "succeeded", outputs: [...refs, ...wsRefs] };
  }

  private recordRunStats(outcome: PromptOutcome, postedAt: number): void {
    const w = this.watcher;
    const start = outcome.startedAt ?? w?.comfyStartedAt ?? w?.startedAt ?? postedAt;
    const end = outcome.endedAt ?? w?.comfyEndedAt ?? w?.endedAt ?? Date.now();
    this.stats.queue_ms = Math.max(0, start - this.startedAt);
    this.stats.run_ms = Math.max(0, end - start);
    this.deps.metrics?.jobSeconds.observe({ phase: "queue" }, this.stats.queue_ms / 1000);
    this.deps.metrics?.jobSeconds.observe({ phase: "run" }, this.stats.run_ms / 1000);
  }

  private async removeFiles(): Promise<void> {
    if (!this.deps.folders) return;
    await removeRunLeftovers({
      comfy: this.deps.comfy,
      folders: this.deps.folders,
      runFolder: this.runFolder,
      inputs: this.uploadedInputs,
      watcher: this.watcher,
      log: this.log,
    });
  }

  private async stopPrompt(): Promise<void> {
    if (this.promptMaybePosted && this.watcher) await stopPrompt(this.deps.comfy, this.watcher, this.log);
  }

  private async confirmStopped(timeoutMs: number): Promise<void> {
    if (this.promptMaybePosted && this.watcher) await waitSettled(this.watcher, timeoutMs, this.hurry.signal);
  }

  private async fromError(err: unknown, limitS: number): Promise<Terminal> {
    const stop =
      err instanceof StopSignal
        ? err.reason
        : this.signal.aborted && this.stopReason !== null
          ? this.stopReason
          : err instanceof LeaseLostError
            ? "lease_lost"
            : null;
    if (stop !== null) {
      if (stop === "lease_lost") this.stop("lease_lost");
      const reason = this.stopReason ?? stop;
      await this.stopPrompt();
      switch (reason) {
        case "lease_lost":
          return { type: "drop" };
        case "shutdown":
          return { type: "give_back" };
        case "cancel":
          await this.confirmStopped(this.deps.cancelConfirmMs ?? 30_000);
          return this.stopReason === "lease_lost" ? { type: "drop" } : { type: "canceled" };
        case "timeout":
          return {
            type: "failed",
            error: {
              code: "job_timeout",
              message: `The job ran longer than its time limit of ${limitS} s (the job's timeout_s or the runner's JOB_TIMEOUT_S).`,
            },
            retryable: false,
          };
      }
    }
    const known = failureOf(err);
    if (known?.comfyDown) {
      this.deps.onComfyDown?.();
      await this.stopPrompt();
      this.log.warn("comfyui became unavailable during the job", { error: err });
    }
    if (known) return { type: "failed", error: known.error, retryable: known.retryable };
    this.log.error("unexpected error while running the job", {
      error: err,
      stack: err instanceof Error ? err.stack : undefined,
    });
    await this.stopPrompt();
    return {
      type: "failed",
      error: { code: "runner_error", message: `The runner failed: ${(err as Error)?.message ?? String(err)}` },
      retryable: true,
    };
  }

  /** Reports the end. Never throws. */
  private complete(terminal: Terminal): Promise<JobResult> {
    return reportEnd(terminal, {
      gateway: this.deps.gateway,
      reporter: this.reporter,
      leaseId: this.leaseId,
      leaseMs: this.leaseMs,
      leaseLost: this.stopReason === "lease_lost",
      stats: this.stats,
      log: this.log,
    });
  }
}
