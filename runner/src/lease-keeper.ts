/**
 * Keeps a job's lease while it runs: heartbeats every half lease (they extend it, and their answer may say
 * `cancel`), and, when the gateway offers it, a cancel-wait long poll beside them, so a client's cancel
 * reaches the runner (and ComfyUI) within about a second instead of at the next heartbeat. `409 lease_lost`
 * from either means another attempt owns the job.
 */
import { backoffMs } from "@comfy-edge/shared/backoff";
import { type GatewayClient, GatewayError, LeaseLostError, sleep } from "./gateway.ts";
import { HttpError } from "./http.ts";
import type { Logger } from "./log.ts";
import type { RunnerMetrics } from "./metrics.ts";

export interface LeaseKeeperOptions {
  gateway: GatewayClient;
  leaseId: string;
  leaseMs: number;
  log: Logger;
  metrics: RunnerMetrics | null;
  onCancel: () => void;
  onLeaseLost: () => void;
  /** Long-poll length of a cancel-wait (seconds, at most 25). */
  cancelWaitS?: number;
  /**
   * The first cancel-wait starts this long after the lease (a job that ends sooner costs no extra request;
   * a cancel asked meanwhile is answered at once when it starts).
   */
  cancelWaitDelayMs?: number;
}

export class LeaseKeeper {
  private readonly o: LeaseKeeperOptions;
  private readonly stopped = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private beating = false;

  constructor(options: LeaseKeeperOptions) {
    this.o = options;
  }

  start(): void {
    this.schedule(this.o.leaseMs / 2);
    void sleep(this.o.cancelWaitDelayMs ?? 500, this.stopped.signal).then(
      () => this.watchCancel(),
      () => {},
    );
  }

  stop(): void {
    this.stopped.abort(new HttpError("aborted", "the job ended"));
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private get done(): boolean {
    return this.stopped.signal.aborted;
  }

  private schedule(ms: number): void {
    if (this.done) return;
    this.timer = setTimeout(() => void this.beat(), ms);
  }

  private async beat(): Promise<void> {
    this.timer = null;
    if (this.done || this.beating) return;
    this.beating = true;
    const interval = this.o.leaseMs / 2;
    try {
      const answer = await this.o.gateway.heartbeat(this.o.leaseId, { timeoutMs: Math.max(5_000, interval) });
      this.failures = 0;
      if (answer.cancel) this.o.onCancel();
      this.schedule(interval);
    } catch (err) {
      if (err instanceof LeaseLostError) {
        this.o.log.warn("the gateway says another attempt owns this job", { error: err.message });
        this.o.onLeaseLost();
        return;
      }
      this.failures += 1;
      this.o.metrics?.gatewayErrors.inc({ call: "heartbeat" });
      const delay = Math.min(interval, backoffMs(this.failures, { baseMs: 500, maxMs: interval }));
      this.o.log.warn("heartbeat failed", { error: err, failures: this.failures, retry_in_ms: delay });
      this.schedule(delay);
    } finally {
      this.beating = false;
    }
  }

  /** Cancel-wait long polls until the job ends; stops for good if the gateway does not offer them (404). */
  private async watchCancel(): Promise<void> {
    const signal = this.stopped.signal;
    let failures = 0;
    while (!this.done) {
      try {
        const answer = await this.o.gateway.cancelWait(this.o.leaseId, this.o.cancelWaitS ?? 20, { signal });
        failures = 0;
        if (answer.cancel) {
          this.o.onCancel();
          return;
        }
      } catch (err) {
        if (this.done) return;
        if (err instanceof LeaseLostError) {
          this.o.onLeaseLost();
          return;
        }
        if (err instanceof GatewayError && (err.status === 404 || err.status === 405)) {
          this.o.log.debug("the gateway has no cancel-wait; cancels arrive with heartbeats");
          return;
        }
        failures += 1;
        const delay = backoffMs(failures, { baseMs: 500, maxMs: 15_000 });
        this.o.log.debug("cancel-wait failed", { error: err, retry_in_ms: delay });
        await sleep(delay, signal).catch(() => {});
      }
    }
  }
}
