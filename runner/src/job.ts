/**
 * One leased job, start to end: inputs -> ComfyUI -> outputs -> the terminal event. `run()` never throws:
 * whatever happens it ends by reporting succeeded / failed / canceled, giving the job back (shutdown), or
 * dropping it (lease lost: another attempt owns it). Heartbeats run from the lease until that end, at half
 * the lease duration; a heartbeat or event ack saying `cancel` cancels the prompt in ComfyUI.
 */
import { randomUUID } from "node:crypto";
import { backoffMs } from "../../workers/shared/backoff.ts";
import type { JobError } from "../../workers/shared/contract/jobs.ts";
import type { LeaseGrant, OutputRef, RunnerEvent } from "../../workers/shared/contract/runner.ts";
import { type ComfyFolders, type FolderFile, removeRunFiles } from "./cleanup.ts";
import { type ComfyClient, ComfyProtocolError, ComfyUnavailableError } from "./comfy/client.ts";
import { executionError, partialPromptError, promptRejectionError } from "./comfy/errors.ts";
import { type CollectedOutput, collectOutputs, fileRefs, type PromptOutcome } from "./comfy/history.ts";
import { tenantError } from "./comfy/redact.ts";
import type { NodeSchemas } from "./comfy/schemas.ts";
import type { ComfySocket } from "./comfy/socket.ts";
import { PromptLostError, PromptWatcher } from "./comfy/watcher.ts";
import { newRunFolder, rewriteWorkflow, type UploadedInput, WorkflowRewriteError } from "./comfy/workflow.ts";
import { ConversionError } from "./convert.ts";
import { type GatewayClient, GatewayError, LeaseLostError } from "./gateway.ts";
import { HttpError, sendBytes } from "./http.ts";
import { uploadInputs } from "./inputs.ts";
import { JobFailure } from "./job-failure.ts";
import type { Logger } from "./log.ts";
import type { JobOutcome, RunnerMetrics } from "./metrics.ts";
import { UploadError, uploadOutputs } from "./outputs.ts";
import { EventReporter } from "./reporter.ts";

export { JobFailure };

export type StopReason = "cancel" | "lease_lost" | "shutdown" | "timeout";

export type JobResult = JobOutcome | "unreported";

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
  /** How long a cancel waits for ComfyUI to confirm the prompt stopped. */
  cancelConfirmMs?: number;
  unreachableGraceMs?: number;
}

class StopSignal extends Error {
  readonly reason: StopReason;
  constructor(reason: StopReason) {
    super(`job stopped: ${reason}`);
    this.name = "StopSignal";
    this.reason = reason;
  }
}

type Terminal =
  | { type: "succeeded"; outputs: OutputRef[] }
  | { type: "failed"; error: JobError; retryable: boolean }
  | { type: "canceled" }
  | { type: "give_back" }
  | { type: "drop" };

const WS_OUTPUT_TYPES = new Set(["SaveImageWebsocket"]);
const STARTED_DELAY_MS = 1_000;

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
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatFailures = 0;
  private heartbeating = false;
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

  // ---- heartbeats -------------------------------------------------------------------------------------

  private scheduleHeartbeat(ms: number): void {
    if (this.done) return;
    this.heartbeatTimer = setTimeout(() => void this.beat(), ms);
  }

  private async beat(): Promise<void> {
    this.heartbeatTimer = null;
    if (this.done || this.heartbeating) return;
    this.heartbeating = true;
    const interval = this.leaseMs / 2;
    try {
      const answer = await this.deps.gateway.heartbeat(this.leaseId, { timeoutMs: Math.max(5_000, interval) });
      this.heartbeatFailures = 0;
      if (answer.cancel) this.stop("cancel");
      this.scheduleHeartbeat(interval);
    } catch (err) {
      if (err instanceof LeaseLostError) {
        this.log.warn("the gateway says another attempt owns this job", { error: err.message });
        this.stop("lease_lost");
        return;
      }
      this.heartbeatFailures += 1;
      this.deps.metrics?.gatewayErrors.inc({ call: "heartbeat" });
      const delay = Math.min(interval, backoffMs(this.heartbeatFailures, { baseMs: 500, maxMs: interval }));
      this.log.warn("heartbeat failed", { error: err, failures: this.heartbeatFailures, retry_in_ms: delay });
      this.scheduleHeartbeat(delay);
    } finally {
      this.heartbeating = false;
    }
  }

  // ---- the job ------------------------------------------------------------------------------------

  /** Runs the job to its end. Never throws. */
  async run(): Promise<JobResult> {
    this.log.info("job leased", {
      lease_expires_at: this.grant.lease.expires_at,
      inputs: this.grant.inputs.length,
      run_folder: this.runFolder,
    });
    this.scheduleHeartbeat(this.leaseMs / 2);
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
      if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
      this.heartbeatTimer = null;
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

    // 2. The workflow as ComfyUI gets it: uploaded names, the run's output prefixes, seeds for -1.
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
      if (posted.status === 400) return { type: "failed", ...failure(promptRejectionError(posted.body, 400), false) };
      return {
        type: "failed",
        error: {
          code: "comfyui_error",
          message: `ComfyUI answered POST /prompt with HTTP ${posted.status}: ${posted.text.trim().slice(0, 300)}`,
        },
        retryable: posted.status >= 500,
      };
    }
    watcher.markPosted();
    if (Object.keys(posted.nodeErrors).length > 0) {
      // ComfyUI would run only the valid outputs: take the prompt back and fail naming the invalid nodes.
      await this.stopPrompt();
      return { type: "failed", ...failure(partialPromptError(posted.nodeErrors), false) };
    }
    this.log.debug("prompt queued", { prompt_id: promptId });
    // `started` (with ComfyUI's prompt id) goes out once the prompt has run for STARTED_DELAY_MS: the
    // gateway marked the job started at the lease, and for a short prompt the terminal event follows at
    // once, so an extra request per job would only cost CPU.
    // Seeds the runner chose are reported at once, so the job says which seed each node got.
    const resolved = Object.keys(seeds).length > 0 ? seeds : undefined;
    const startedTimer = setTimeout(() => this.reporter.started(promptId, resolved), resolved ? 0 : STARTED_DELAY_MS);

    // 4. Wait for the end (websocket, /history, /queue).
    const outcome = await this.guard(watcher.outcome).finally(() => clearTimeout(startedTimer));
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
    if (outcome.status === "interrupted") {
      return {
        type: "failed",
        error: {
          code: "interrupted",
          message: `ComfyUI interrupted the prompt${outcome.nodeId ? ` at node ${outcome.nodeId}` : ""} (not at this job's request).`,
          ...(outcome.nodeId ? { node_id: outcome.nodeId } : {}),
        },
        retryable: true,
      };
    }
    if (wsOutputNodes.size > 0 && watcher.wsGap) {
      return {
        type: "failed",
        error: {
          code: "output_lost",
          message: "The websocket to ComfyUI dropped while it sent websocket-only outputs (SaveImageWebsocket).",
        },
        retryable: true,
      };
    }

    // 5. Outputs: every file in /history (and websocket images), streamed to presigned PUTs.
    const items: CollectedOutput[] = collectOutputs(await this.guard(watcher.outputs(this.signal)));
    const uploadStart = Date.now();
    const refs = await this.guard(
      uploadOutputs(items, {
        gateway: this.deps.gateway,
        comfy,
        leaseId: this.leaseId,
        output: this.grant.job.output ?? null,
        log: this.log,
        signal: this.signal,
      }),
    );
    const wsRefs = await this.guard(this.uploadWsImages(watcher));
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

  private async uploadWsImages(watcher: PromptWatcher): Promise<OutputRef[]> {
    if (watcher.wsImages.length === 0) return [];
    const counts = new Map<string, number>();
    const texts = watcher.wsImages.map((img) => {
      const n = (counts.get(img.node_id) ?? 0) + 1;
      counts.set(img.node_id, n);
      const ext = img.content_type === "image/jpeg" ? "jpg" : "png";
      return { ...img, filename: `${this.jobId}-n${img.node_id}-${String(n).padStart(5, "0")}.${ext}` };
    });
    const refs: OutputRef[] = [];
    for (const img of texts) {
      const minted = await this.deps.gateway.uploadUrl(
        this.leaseId,
        { filename: img.filename, content_type: img.content_type, node_id: img.node_id },
        { signal: this.signal },
      );
      const res = await sendBytes(
        {
          method: "PUT",
          url: minted.upload_url,
          headers: { "content-type": img.content_type },
          body: img.bytes,
          signal: this.signal,
          timeoutMs: 120_000,
        },
        64 * 1024,
      );
      if (res.status < 200 || res.status >= 300) {
        throw new UploadError(`storage answered the upload with ${res.status}`, res.status >= 500);
      }
      refs.push({ key: minted.key, node_id: img.node_id, filename: img.filename, content_type: img.content_type });
    }
    return refs;
  }

  /**
   * Removes what this run left in ComfyUI's folders (with COMFYUI_DIR): the inputs it uploaded, every file
   * its prompt listed (outputs and previews) and the run's subfolders. Never throws.
   */
  private async removeFiles(): Promise<void> {
    const folders = this.deps.folders;
    if (!folders) return;
    try {
      const files: FolderFile[] = this.uploadedInputs.map((f) => ({
        type: "input",
        subfolder: f.subfolder,
        filename: f.name,
      }));
      const w = this.watcher;
      if (w) {
        const outputs = w.isSettled
          ? await w.outputs(AbortSignal.timeout(5_000)).catch(() => w.wsOutputs)
          : w.wsOutputs;
        files.push(...fileRefs(outputs));
      }
      const slash = this.runFolder.lastIndexOf("/");
      const run = { subfolder: this.runFolder.slice(0, slash), filename: this.runFolder.slice(slash + 1) };
      const result = await removeRunFiles(
        folders,
        files,
        [
          { type: "input", ...run },
          { type: "output", ...run },
        ],
        this.log,
      );
      this.log.debug("removed the run's files from comfyui's folders", { ...result, run_folder: this.runFolder });
    } catch (err) {
      this.log.warn("could not remove the run's files from comfyui's folders", { error: err });
    }
  }

  /**
   * Takes the prompt out of ComfyUI: pending -> POST /queue {delete}; running -> POST /interrupt {prompt_id}.
   * Best effort: ComfyUI may be gone.
   */
  private async stopPrompt(): Promise<void> {
    const watcher = this.watcher;
    if (!this.promptMaybePosted || !watcher || watcher.isSettled) return;
    const { comfy } = this.deps;
    const id = watcher.promptId;
    const signal = AbortSignal.timeout(10_000);
    try {
      const queue = await comfy.queue(signal);
      if (queue.pending.includes(id)) {
        await comfy.deleteFromQueue([id], signal);
        this.log.info("prompt removed from the comfyui queue", { prompt_id: id });
        const after = await comfy.queue(signal);
        if (after.running.includes(id)) await comfy.interrupt(id, signal);
      } else if (queue.running.includes(id)) {
        await comfy.interrupt(id, signal);
        this.log.info("prompt interrupted in comfyui", { prompt_id: id });
      }
    } catch (err) {
      this.log.warn("could not stop the prompt in comfyui", { prompt_id: id, error: err });
    }
    watcher.check("stopped the prompt");
  }

  /** Waits (bounded) until ComfyUI confirms the prompt is over. */
  private async confirmStopped(timeoutMs: number): Promise<void> {
    const watcher = this.watcher;
    if (!this.promptMaybePosted || !watcher || watcher.isSettled) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      this.hurry.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await Promise.race([
      watcher.outcome.then(
        () => {},
        () => {},
      ),
      timeout,
    ]);
    clearTimeout(timer);
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
    if (err instanceof JobFailure) return { type: "failed", error: err.error, retryable: err.retryable };
    if (err instanceof WorkflowRewriteError) {
      return {
        type: "failed",
        error: { code: "workflow_invalid", message: err.message, node_id: err.nodeId, node_type: err.nodeType },
        retryable: false,
      };
    }
    if (err instanceof ComfyUnavailableError || err instanceof PromptLostError) {
      this.deps.onComfyDown?.();
      await this.stopPrompt();
      this.log.warn("comfyui became unavailable during the job", { error: err });
      return {
        type: "failed",
        error: {
          code: "comfyui_unavailable",
          message: `ComfyUI became unavailable while running the job: ${err.message}`,
        },
        retryable: true,
      };
    }
    if (err instanceof ConversionError) {
      return {
        type: "failed",
        error: { code: "output_conversion_failed", message: err.message },
        retryable: /not installed/.test(err.message),
      };
    }
    if (
      err instanceof UploadError ||
      err instanceof GatewayError ||
      (err instanceof HttpError && err.kind !== "aborted")
    ) {
      return {
        type: "failed",
        error: { code: "output_upload_failed", message: `Uploading the outputs failed: ${(err as Error).message}` },
        retryable: true,
      };
    }
    if (err instanceof ComfyProtocolError) {
      return {
        type: "failed",
        error: { code: "comfyui_error", message: err.message },
        retryable: true,
      };
    }
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
  private async complete(terminal: Terminal): Promise<JobResult> {
    if (this.stopReason === "lease_lost" || terminal.type === "drop") {
      await this.reporter.close();
      this.log.warn("job dropped: another attempt owns it");
      return "lease_lost";
    }
    if (terminal.type === "give_back") {
      await this.reporter.close();
      try {
        await this.deps.gateway.giveBack(this.leaseId, { timeoutMs: 15_000 });
        this.log.info("job given back to the gateway");
        return "given_back";
      } catch (err) {
        if (err instanceof LeaseLostError) return "lease_lost";
        this.log.warn("could not give the job back; the gateway will re-dispatch it when the lease expires", {
          error: err,
        });
        return "unreported";
      }
    }
    const stats = this.stats;
    let event: RunnerEvent;
    if (terminal.type === "succeeded") event = { type: "succeeded", outputs: terminal.outputs, stats };
    else if (terminal.type === "failed")
      event = { type: "failed", error: tenantError(terminal.error), retryable: terminal.retryable, stats };
    else event = { type: "canceled" };
    const budget = Math.max(10_000, this.leaseMs);
    let sent = await this.reporter.terminal(event, budget);
    if (
      sent.result === "unreported" &&
      terminal.type === "succeeded" &&
      sent.error instanceof GatewayError &&
      sent.error.code === "output_missing"
    ) {
      // Should not happen (every output was PUT); let another attempt redo it.
      const retry: RunnerEvent = {
        type: "failed",
        error: { code: "output_upload_failed", message: sent.error.message },
        retryable: true,
        stats,
      };
      sent = await this.reporter.terminal(retry, budget);
    }
    if (sent.result === "ok") {
      const fields: Record<string, unknown> = { outcome: terminal.type, ...stats };
      // The log keeps ComfyUI's full message; the tenant's copy went out without host details.
      if (terminal.type === "succeeded") fields.outputs = terminal.outputs.length;
      if (terminal.type === "failed") {
        fields.code = terminal.error.code;
        fields.retryable = terminal.retryable;
        fields.error_message = terminal.error.message;
      }
      this.log.info("job finished", fields);
      return terminal.type;
    }
    if (sent.result === "lease_lost") {
      this.log.warn("job finished but another attempt owns it now; result dropped");
      return "lease_lost";
    }
    this.log.error("could not report the job's end; the gateway will re-dispatch it when the lease expires", {
      outcome: terminal.type,
      error: sent.error,
    });
    return "unreported";
  }
}

function failure(error: JobError, retryable: boolean): { error: JobError; retryable: boolean } {
  return { error, retryable };
}
