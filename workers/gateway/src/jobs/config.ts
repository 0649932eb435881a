/** The job object's settings (wrangler.toml [vars]): part of the gateway's config (../config.ts). */

import { wholeNumber } from "@comfy-edge/shared/config";
import { z } from "zod";
import { DEFAULT_MAX_ATTEMPTS, LEASE_MS } from "./state.ts";

export const JobVars = z.object({
  LEASE_DURATION_S: wholeNumber("seconds", LEASE_MS / 1000),
  MAX_ATTEMPTS: wholeNumber("attempts", DEFAULT_MAX_ATTEMPTS),
  DISPATCH_RESEND_S: wholeNumber("seconds", 30),
  WEBHOOK_RESEND_S: wholeNumber("seconds", 30),
  MAX_RUN_S: wholeNumber("seconds", 3600),
  MAX_OUTPUTS: wholeNumber("outputs", 100),
  MAX_OUTPUT_BYTES: wholeNumber("bytes", 1024 * 1024 * 1024),
});

export interface JobConfig {
  leaseMs: number;
  maxAttempts: number;
  /** First re-send of an unacknowledged dispatch (doubling, up to 10 min). */
  redispatchBaseMs: number;
  /** First re-send of a webhook event the consumer has not reported on (doubling, up to 1 h). */
  webhookResendMs: number;
  /** Deployment-wide longest run of one attempt (a tenant's `max_run_s` may lower it). */
  maxRunMs: number;
  /** Outputs per job (and upload URLs per attempt). */
  maxOutputs: number;
  /** Bytes of all outputs of one job. */
  maxOutputBytes: number;
}

export function toJobConfig(v: z.output<typeof JobVars>): JobConfig {
  return {
    leaseMs: v.LEASE_DURATION_S * 1000,
    maxAttempts: v.MAX_ATTEMPTS,
    redispatchBaseMs: v.DISPATCH_RESEND_S * 1000,
    webhookResendMs: v.WEBHOOK_RESEND_S * 1000,
    maxRunMs: v.MAX_RUN_S * 1000,
    maxOutputs: v.MAX_OUTPUTS,
    maxOutputBytes: v.MAX_OUTPUT_BYTES,
  };
}
