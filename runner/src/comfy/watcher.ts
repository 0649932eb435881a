/**
 * Follows one prompt to its end. The websocket gives the fast path (execution_success / _error /
 * _interrupted); /history and /queue are the truth, checked whenever the socket reconnects or closes, when
 * ComfyUI says a prompt ended (`executing {node: null}`) without us seeing how, and every `pollMs` as a
 * safety net. A prompt that is neither queued nor in history is lost (ComfyUI restarted: its queue lives in
 * memory). Refused connections and slow answers (the ~0.5 s garbage-collection pause, a busy server) are
 * waited out for up to `unreachableGraceMs` (default 30 s), never treated as a failure before that.
 */
import { doublingMs } from "@comfy-edge/shared/backoff";
import type { Logger } from "../log.ts";
import { type PreviewFrame, previewOf } from "../preview.ts";
import type { ProgressValue } from "../progress.ts";
import { type ComfyClient, ComfyProtocolError, ComfyUnavailableError } from "./client.ts";
import { type HistoryEntry, outcomeFromHistory, type PromptOutcome } from "./history.ts";
import { type BinaryFrame, type ComfyMessage, promptIdOf } from "./messages.ts";
import type { ComfySocket } from "./socket.ts";

export class PromptLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PromptLostError";
  }
}

export interface WsImage {
  node_id: string;
  bytes: Uint8Array;
  content_type: string;
}

export interface WatcherOptions {
  comfy: ComfyClient;
  socket: ComfySocket;
  promptId: string;
  log: Logger;
  onProgress?(progress: ProgressValue): void;
  /** A sampler preview frame of this prompt (not of a websocket-output node). */
  onPreview?(frame: PreviewFrame): void;
  /** Node ids whose images arrive only over the websocket (SaveImageWebsocket). */
  wsOutputNodes?: ReadonlySet<string>;
  pollMs?: number;
  unreachableGraceMs?: number;
  /** Cap on bytes of websocket images kept. */
  maxWsImageBytes?: number;
}

export class PromptWatcher {
  readonly promptId: string;
  readonly outcome: Promise<PromptOutcome>;
  /** ComfyUI's own timestamps (ms since epoch) of execution_start and the end, when seen. */
  comfyStartedAt: number | null = null;
  comfyEndedAt: number | null = null;
  /** Local time (Date.now()) when execution_start and the end were seen. */
  startedAt: number | null = null;
  endedAt: number | null = null;
  /** The socket closed since attach(), or was not open when the prompt was posted: messages may be missing. */
  wsGap = false;
  /** The outcome came from the websocket's own execution_* message (not from /history). */
  settledByWs = false;
  /** `executed` outputs by node, as the websocket reported them (complete when !wsGap and settledByWs). */
  readonly wsOutputs: Record<string, Record<string, unknown>> = {};
  readonly wsImages: WsImage[] = [];
  private wsImageBytes = 0;

  private readonly comfy: ComfyClient;
  private readonly socket: ComfySocket;
  private readonly log: Logger;
  private readonly options: WatcherOptions;
  private readonly pollMs: number;
  private readonly graceMs: number;
  private resolveOutcome!: (outcome: PromptOutcome) => void;
  private rejectOutcome!: (err: Error) => void;
  private settled = false;
  private posted = false;
  private disposed = false;
  private unsubscribe: (() => void) | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private checking = false;
  private checkAgain = false;
  private lastContact = Date.now();
  private currentNode: string | null = null;
  private lastProgress: { node_id: string | null; value: number; max: number } | null = null;
  private sawEnd = false;
  private endWaiters: Array<() => void> = [];
  private entry: HistoryEntry | null = null;

  constructor(options: WatcherOptions) {
    this.options = options;
    this.comfy = options.comfy;
    this.socket = options.socket;
    this.promptId = options.promptId;
    this.log = options.log;
    this.pollMs = options.pollMs ?? 5_000;
    this.graceMs = options.unreachableGraceMs ?? 30_000;
    this.outcome = new Promise<PromptOutcome>((resolve, reject) => {
      this.resolveOutcome = resolve;
      this.rejectOutcome = reject;
    });
    this.outcome.catch(() => {});
  }

  get isSettled(): boolean {
    return this.settled;
  }

  /** Listens to the socket (before POST /prompt, so no early message is missed). */
  attach(): void {
    this.unsubscribe = this.socket.subscribe({
      message: (m) => this.onMessage(m),
      binary: (f) => this.onBinary(f),
      open: () => {
        if (this.posted && !this.settled) this.check("websocket reconnected");
      },
      close: () => {
        if (this.settled) return;
        this.wsGap = true;
        if (this.posted) this.check("websocket closed");
      },
    });
  }

  /** POST /prompt was accepted: from now on the prompt must be somewhere in ComfyUI. */
  markPosted(): void {
    this.posted = true;
    this.lastContact = Date.now();
    if (!this.socket.isOpen) this.wsGap = true;
    if (!this.settled) this.schedulePoll(this.pollMs);
  }

  dispose(): void {
    this.disposed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    for (const w of this.endWaiters.splice(0)) w();
  }

  private settle(outcome: PromptOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.endedAt ??= Date.now();
    this.comfyStartedAt ??= outcome.startedAt;
    this.comfyEndedAt ??= outcome.endedAt;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.resolveOutcome(outcome);
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.rejectOutcome(err);
  }

  private onMessage(message: ComfyMessage): void {
    if (promptIdOf(message) !== this.promptId) return;
    switch (message.type) {
      case "execution_start":
        this.startedAt = Date.now();
        this.comfyStartedAt = message.data.timestamp ?? null;
        break;
      case "executing":
        if (message.data.node === null) {
          this.sawEnd = true;
          for (const w of this.endWaiters.splice(0)) w();
          if (!this.settled && this.posted) this.check("comfyui ended the prompt");
        } else this.currentNode = message.data.node;
        break;
      case "progress":
        this.lastProgress = {
          value: message.data.value,
          max: message.data.max,
          node_id: message.data.node ?? this.currentNode,
        };
        this.options.onProgress?.(this.lastProgress);
        break;
      case "executed":
        if (message.data.output) this.wsOutputs[message.data.node] = message.data.output;
        break;
      case "execution_success":
        this.comfyEndedAt = message.data.timestamp ?? null;
        if (!this.settled) this.settledByWs = true;
        this.settle({ status: "success", startedAt: this.comfyStartedAt, endedAt: this.comfyEndedAt });
        break;
      case "execution_error":
        this.comfyEndedAt = message.data.timestamp ?? null;
        this.settle({
          status: "error",
          data: message.data,
          startedAt: this.comfyStartedAt,
          endedAt: this.comfyEndedAt,
        });
        break;
      case "execution_interrupted":
        this.comfyEndedAt = message.data.timestamp ?? null;
        this.settle({
          status: "interrupted",
          nodeId: message.data.node_id ?? null,
          startedAt: this.comfyStartedAt,
          endedAt: this.comfyEndedAt,
        });
        break;
      default:
        break;
    }
  }

  private onBinary(frame: BinaryFrame): void {
    const nodes = this.options.wsOutputNodes;
    // Previews: frames while this prompt executes (ComfyUI sends them only to the client that queued it).
    if (this.options.onPreview && !this.settled && !this.sawEnd && this.currentNode !== null) {
      const preview = previewOf(frame, this.promptId, this.currentNode, this.lastProgress);
      if (preview && !(preview.node_id !== null && nodes?.has(preview.node_id))) this.options.onPreview(preview);
    }
    if (!nodes || nodes.size === 0 || this.settled) return;
    let nodeId: string | null = null;
    let image: Uint8Array | null = null;
    let contentType = "image/png";
    if (frame.type === "preview_image") {
      nodeId = this.currentNode;
      image = frame.image;
      contentType = frame.format === "jpeg" ? "image/jpeg" : "image/png";
    } else if (frame.type === "preview_image_with_metadata") {
      if (frame.metadata?.prompt_id && frame.metadata.prompt_id !== this.promptId) return;
      nodeId = frame.metadata?.node_id ?? this.currentNode;
      image = frame.image;
      contentType = frame.metadata?.image_type ?? "image/png";
    }
    if (nodeId === null || image === null || !nodes.has(nodeId)) return;
    this.wsImageBytes += image.byteLength;
    if (this.wsImageBytes > (this.options.maxWsImageBytes ?? 256 * 1024 * 1024)) {
      this.log.warn("websocket images over the memory cap; dropped", { node_id: nodeId });
      return;
    }
    this.wsImages.push({ node_id: nodeId, bytes: image, content_type: contentType });
  }

  /**
   * Websocket-only outputs (SaveImageWebsocket) arrive as binary frames before the prompt's last messages;
   * /history may answer first. While the socket is up, wait for the websocket's own end of the prompt.
   */
  private awaitWsEnd(outcome: PromptOutcome): boolean {
    const nodes = this.options.wsOutputNodes;
    return (
      outcome.status === "success" &&
      nodes !== undefined &&
      nodes.size > 0 &&
      !this.wsGap &&
      this.socket.isOpen &&
      !this.sawEnd
    );
  }

  private schedulePoll(ms: number): void {
    if (this.disposed || this.settled) return;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.check("periodic check");
    }, ms);
  }

  /** Reconciles with /history and /queue now (coalesced: one check at a time). */
  check(why: string): void {
    if (this.disposed || this.settled || !this.posted) return;
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    void this.reconcile(why).finally(() => {
      this.checking = false;
      if (this.checkAgain && !this.settled && !this.disposed) {
        this.checkAgain = false;
        this.check("follow-up");
      }
    });
  }

  private async reconcile(why: string): Promise<void> {
    try {
      const signal = AbortSignal.timeout(30_000);
      const entry = await this.comfy.history(this.promptId, signal);
      this.lastContact = Date.now();
      if (entry) {
        const outcome = outcomeFromHistory(entry);
        if (outcome) {
          this.entry = entry;
          if (this.awaitWsEnd(outcome)) {
            this.schedulePoll(this.pollMs);
            return;
          }
          if (!this.settled) this.log.debug("prompt outcome from /history", { why, status: outcome.status });
          this.settle(outcome);
          return;
        }
      } else {
        const queue = await this.comfy.queue(signal);
        if (!queue.running.includes(this.promptId) && !queue.pending.includes(this.promptId)) {
          // It may have finished between the two calls.
          const again = await this.comfy.history(this.promptId, signal);
          const outcome = again ? outcomeFromHistory(again) : null;
          if (again && outcome) {
            this.entry = again;
            this.settle(outcome);
          } else {
            this.fail(new PromptLostError("ComfyUI no longer has the prompt (it was removed or ComfyUI restarted)"));
          }
          return;
        }
      }
      this.schedulePoll(this.pollMs);
    } catch (err) {
      if (err instanceof ComfyUnavailableError) {
        // Refused or slow: ComfyUI may be restarting (then the prompt is gone, which the next successful
        // check shows) or only unreachable for a moment (then the prompt is fine). Give up after the grace.
        if (Date.now() - this.lastContact > this.graceMs) {
          this.fail(err);
          return;
        }
        this.log.debug("comfyui slow to answer a check; trying again", { why, error: err });
        this.schedulePoll(1_000);
        return;
      }
      if (err instanceof ComfyProtocolError) {
        this.log.warn("unexpected answer while checking the prompt", { why, error: err });
        this.schedulePoll(this.pollMs);
        return;
      }
      this.log.warn("checking the prompt failed", { why, error: err });
      this.schedulePoll(this.pollMs);
    }
  }

  /**
   * The prompt's outputs: from the websocket's `executed` messages when it saw the whole prompt (the same
   * dicts ComfyUI stores in history), else from /history.
   */
  async outputs(signal: AbortSignal): Promise<Record<string, unknown>> {
    if (this.entry) return this.entry.outputs;
    if (this.settledByWs && !this.wsGap) return this.wsOutputs;
    return (await this.historyEntry(signal)).outputs;
  }

  /** The prompt's history entry (after success): ComfyUI writes it just after execution_success. */
  async historyEntry(signal: AbortSignal, timeoutMs = 60_000): Promise<HistoryEntry> {
    if (this.entry) return this.entry;
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      const entry = await this.comfy.history(this.promptId, signal);
      if (entry) {
        this.entry = entry;
        return entry;
      }
      if (Date.now() > deadline) {
        throw new ComfyProtocolError("ComfyUI reported success but has no history entry for the prompt", 200);
      }
      // Wait for `executing {node: null}` (sent after the entry is stored), or a short backoff (shared/backoff.ts
      // doubling: 20 ms doubling to 1 s, no jitter: one poller of a local ComfyUI).
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, doublingMs(attempt, 20, 1_000));
        signal.addEventListener("abort", done, { once: true });
        if (!this.sawEnd) this.endWaiters.push(done);
      });
      if (signal.aborted) throw signal.reason;
    }
  }
}
