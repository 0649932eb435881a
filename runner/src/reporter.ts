/**
 * A job's events to the gateway, in order: `started` and throttled `progress` go out one at a time in the
 * background (a failure is logged, not fatal); the terminal event waits for them, then is retried until it
 * lands, the lease is lost, or the lease would have expired anyway. Acks that say `cancel` are passed on.
 * Sampler previews take their own lane: at most 1 per second (latest wins), one request in flight and the
 * newest frame waiting behind it (older ones dropped), never retried; the job never waits for them.
 */
import type { RunnerEvent } from "@comfy-edge/shared/contract/runner";
import { type EventAnswer, type GatewayClient, LeaseLostError, withRetry } from "./gateway.ts";
import type { Logger } from "./log.ts";
import { LatestThrottle, PREVIEW_MAX_BYTES, type PreviewFrame } from "./preview.ts";
import { ProgressThrottle, type ProgressValue } from "./progress.ts";

export interface ReporterHooks {
  onAck(ack: EventAnswer): void;
  onLeaseLost(): void;
}

export type TerminalResult = "ok" | "lease_lost" | "unreported";

export interface ReporterOptions {
  progressIntervalMs?: number;
  /** At most one preview per this many ms (default 1000). */
  previewIntervalMs?: number;
  /** The clock (tests inject one). */
  now?: () => number;
}

export class EventReporter {
  private readonly gateway: GatewayClient;
  private readonly leaseId: string;
  private readonly log: Logger;
  private readonly hooks: ReporterHooks;
  private readonly throttle: ProgressThrottle;
  private chain: Promise<void> = Promise.resolve();
  private flushTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly now: () => number;
  private readonly previews: LatestThrottle<PreviewFrame>;
  private previewTimer: NodeJS.Timeout | null = null;
  private previewInFlight: Promise<void> | null = null;
  private previewWaiting: PreviewFrame | null = null;
  private warnedLargePreview = false;
  private readonly previewAbort = new AbortController();
  /** Previews sent and dropped (too large, or replaced by a newer one while the lane was busy). */
  readonly previewStats = { sent: 0, dropped: 0 };

  constructor(
    gateway: GatewayClient,
    leaseId: string,
    log: Logger,
    hooks: ReporterHooks,
    options: ReporterOptions = {},
  ) {
    this.gateway = gateway;
    this.leaseId = leaseId;
    this.log = log;
    this.hooks = hooks;
    this.now = options.now ?? Date.now;
    this.throttle = new ProgressThrottle(options.progressIntervalMs ?? 500);
    this.previews = new LatestThrottle(options.previewIntervalMs ?? 1000);
  }

  /** A sampler preview frame: throttled, dropped if over PREVIEW_MAX_BYTES (logged once per job). */
  preview(frame: PreviewFrame): void {
    if (this.closed) return;
    if (frame.image.byteLength > PREVIEW_MAX_BYTES) {
      this.previewStats.dropped += 1;
      if (!this.warnedLargePreview) {
        this.warnedLargePreview = true;
        this.log.warn("a sampler preview is larger than the preview limit; such frames are not forwarded", {
          bytes: frame.image.byteLength,
          limit_bytes: PREVIEW_MAX_BYTES,
        });
      }
      return;
    }
    const now = this.now();
    const send = this.previews.offer(frame, now);
    if (send) {
      this.sendPreview(send);
      return;
    }
    const due = this.previews.due();
    if (due !== null && this.previewTimer === null) {
      this.previewTimer = setTimeout(
        () => {
          this.previewTimer = null;
          const kept = this.previews.flush(this.now());
          if (kept) this.sendPreview(kept);
        },
        Math.max(0, due - now),
      );
    }
  }

  private sendPreview(frame: PreviewFrame): void {
    if (this.closed) return;
    if (this.previewInFlight) {
      if (this.previewWaiting) this.previewStats.dropped += 1;
      this.previewWaiting = frame;
      return;
    }
    const { image, ...rest } = frame;
    const event: RunnerEvent = { type: "preview", ...rest, image_b64: Buffer.from(image).toString("base64") };
    const signal = this.previewAbort.signal;
    this.previewInFlight = (async () => {
      try {
        const ack = await this.gateway.event(this.leaseId, event, { timeoutMs: 10_000, signal });
        this.previewStats.sent += 1;
        if (!this.closed) this.hooks.onAck(ack);
      } catch (err) {
        if (this.closed) return; // cut short by the job's end
        if (err instanceof LeaseLostError) this.hooks.onLeaseLost();
        else this.log.debug("a preview did not reach the gateway (dropped)", { error: err });
      }
    })().finally(() => {
      this.previewInFlight = null;
      const next = this.previewWaiting;
      this.previewWaiting = null;
      if (next) this.sendPreview(next);
    });
  }

  /** `resolved`: values the runner chose (seeds given as -1), by node id and input name. */
  started(promptId: string, resolved?: Record<string, Record<string, number>>): void {
    this.enqueue({ type: "started", prompt_id: promptId, ...(resolved ? { resolved_inputs: resolved } : {}) });
  }

  progress(progress: ProgressValue): void {
    if (this.closed) return;
    const now = this.now();
    const send = this.throttle.offer(progress, now);
    if (send) {
      this.enqueue({ type: "progress", value: send.value, max: send.max, node_id: send.node_id });
      return;
    }
    const due = this.throttle.due();
    if (due !== null && this.flushTimer === null) {
      this.flushTimer = setTimeout(
        () => {
          this.flushTimer = null;
          const kept = this.throttle.flush(this.now());
          if (kept) this.enqueue({ type: "progress", value: kept.value, max: kept.max, node_id: kept.node_id });
        },
        Math.max(0, due - now),
      );
    }
  }

  private enqueue(event: RunnerEvent): void {
    if (this.closed) return;
    this.chain = this.chain.then(() => this.sendSoft(event));
  }

  private async sendSoft(event: RunnerEvent): Promise<void> {
    if (this.closed && event.type === "progress") return;
    try {
      const ack = await this.gateway.event(this.leaseId, event, { timeoutMs: 15_000 });
      this.hooks.onAck(ack);
    } catch (err) {
      if (err instanceof LeaseLostError) this.hooks.onLeaseLost();
      else this.log.warn("could not report an event to the gateway", { event: event.type, error: err });
    }
  }

  /** Stops background events; waits for the ones in flight. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.throttle.clear();
    if (this.previewTimer) clearTimeout(this.previewTimer);
    this.previewTimer = null;
    this.previews.clear();
    this.previewWaiting = null;
    this.previewAbort.abort(); // the job's end never waits for a preview
    await this.chain;
  }

  /** Sends the terminal event (after the queued ones), retrying for up to `budgetMs`. */
  async terminal(event: RunnerEvent, budgetMs: number): Promise<{ result: TerminalResult; error?: unknown }> {
    await this.close();
    const deadline = Date.now() + budgetMs;
    try {
      await withRetry(() => this.gateway.event(this.leaseId, event, { timeoutMs: 30_000 }), {
        attempts: 1000,
        baseMs: 250,
        maxMs: 5_000,
        retryable: (err) =>
          Date.now() < deadline &&
          !(err instanceof LeaseLostError) &&
          (err as { retryable?: boolean }).retryable === true,
        onRetry: (err, attempt, delay) =>
          this.log.warn("reporting the job's end failed; retrying", {
            event: event.type,
            attempt,
            delay_ms: delay,
            error: err,
          }),
      });
      return { result: "ok" };
    } catch (err) {
      if (err instanceof LeaseLostError) return { result: "lease_lost" };
      return { result: "unreported", error: err };
    }
  }
}
