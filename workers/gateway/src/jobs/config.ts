/** The job object's settings (wrangler.toml [vars]), parsed once per object instance. */
import { z } from "zod";
import { DEFAULT_MAX_ATTEMPTS, LEASE_MS } from "./state.ts";

/** A positive number given as text; empty, missing or invalid -> the default. */
const seconds = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v) => {
      const n = Number(v);
      return v !== undefined && v.trim() !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
    });

const JobVars = z.object({
  LEASE_DURATION_S: seconds(LEASE_MS / 1000),
  MAX_ATTEMPTS: seconds(DEFAULT_MAX_ATTEMPTS),
  DISPATCH_RESEND_S: seconds(30),
  WEBHOOK_RESEND_S: seconds(30),
  MAX_RUN_S: seconds(3600),
  MAX_OUTPUTS: seconds(100),
  MAX_OUTPUT_BYTES: seconds(1024 * 1024 * 1024),
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

export type JobVarsInput = Partial<Record<keyof z.input<typeof JobVars>, string>>;

export function jobConfig(env: JobVarsInput): JobConfig {
  const v = JobVars.parse({
    LEASE_DURATION_S: env.LEASE_DURATION_S,
    MAX_ATTEMPTS: env.MAX_ATTEMPTS,
    DISPATCH_RESEND_S: env.DISPATCH_RESEND_S,
    WEBHOOK_RESEND_S: env.WEBHOOK_RESEND_S,
    MAX_RUN_S: env.MAX_RUN_S,
    MAX_OUTPUTS: env.MAX_OUTPUTS,
    MAX_OUTPUT_BYTES: env.MAX_OUTPUT_BYTES,
  });
  return {
    leaseMs: v.LEASE_DURATION_S * 1000,
    maxAttempts: Math.floor(v.MAX_ATTEMPTS),
    redispatchBaseMs: v.DISPATCH_RESEND_S * 1000,
    webhookResendMs: v.WEBHOOK_RESEND_S * 1000,
    maxRunMs: v.MAX_RUN_S * 1000,
    maxOutputs: Math.floor(v.MAX_OUTPUTS),
    maxOutputBytes: Math.floor(v.MAX_OUTPUT_BYTES),
  };
}
