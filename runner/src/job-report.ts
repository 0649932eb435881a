/**
 * The end of a job as the gateway learns it: a terminal event (retried until it lands, the lease is lost or
 * the lease would have expired anyway), a give-back, or nothing when another attempt owns the job. Tenants
 * get the error without host details; the log keeps ComfyUI's full message.
 */
import type { JobError } from "@comfy-edge/shared/contract/jobs";
import type { OutputRef, RunnerEvent } from "@comfy-edge/shared/contract/runner";
import { tenantError } from "./comfy/redact.ts";
import { type GatewayClient, GatewayError, LeaseLostError } from "./gateway.ts";
import type { Logger } from "./log.ts";
import type { JobOutcome } from "./metrics.ts";
import type { EventReporter } from "./reporter.ts";

export type JobResult = JobOutcome | "unreported";

export type Terminal =
  | { type: "succeeded"; outputs: OutputRef[] }
  | { type: "failed"; error: JobError; retryable: boolean }
  | { type: "canceled" }
  | { type: "give_back" }
  | { type: "drop" };

export interface EndContext {
  gateway: GatewayClient;
  reporter: EventReporter;
  leaseId: string;
  leaseMs: number;
  /** Another attempt owns the job: report nothing. */
  leaseLost: boolean;
  stats: { queue_ms?: number; run_ms?: number; upload_ms?: number };
  log: Logger;
}

/** Reports the end. Never throws. */
export async function reportEnd(terminal: Terminal, ctx: EndContext): Promise<JobResult> {
  if (ctx.leaseLost || terminal.type === "drop") {
    await ctx.reporter.close();
    ctx.log.warn("job dropped: another attempt owns it");
    return "lease_lost";
  }
  if (terminal.type === "give_back") {
    await ctx.reporter.close();
    try {
      await ctx.gateway.giveBack(ctx.leaseId, { timeoutMs: 15_000 });
      ctx.log.info("job given back to the gateway");
      return "given_back";
    } catch (err) {
      if (err instanceof LeaseLostError) return "lease_lost";
      ctx.log.warn("could not give the job back; the gateway will re-dispatch it when the lease expires", {
        error: err,
      });
      return "unreported";
    }
  }
  const stats = ctx.stats;
  let event: RunnerEvent;
  if (terminal.type === "succeeded") event = { type: "succeeded", outputs: terminal.outputs, stats };
  else if (terminal.type === "failed")
    event = { type: "failed", error: tenantError(terminal.error), retryable: terminal.retryable, stats };
  else event = { type: "canceled" };
  const budget = Math.max(10_000, ctx.leaseMs);
  let sent = await ctx.reporter.terminal(event, budget);
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
    sent = await ctx.reporter.terminal(retry, budget);
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
    ctx.log.info("job finished", fields);
    return terminal.type;
  }
  if (sent.result === "lease_lost") {
    ctx.log.warn("job finished but another attempt owns it now; result dropped");
    return "lease_lost";
  }
  ctx.log.error("could not report the job's end; the gateway will re-dispatch it when the lease expires", {
    outcome: terminal.type,
    error: sent.error,
  });
  return "unreported";
}
