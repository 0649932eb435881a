/**
 * The gateway's settings (wrangler.toml [vars]), zod-parsed once per `env` (shared/config.ts). A bad value
 * fails with the variable's name; in a request it is answered 503 `misconfigured` (errors.ts), naming the
 * variable, never its value. The LLM proxy's settings stay apart (llm/config.ts): a broken LLM_UPSTREAMS
 * fails only LLM requests.
 */

import { memoPerEnv, parseVars, wholeNumber } from "@comfy-edge/shared/config";
import { z } from "zod";
import { type JobConfig, JobVars, toJobConfig } from "./jobs/config.ts";

const GatewayVars = z.object({
  ...JobVars.shape,
  DEFAULT_REQUESTS_PER_MINUTE: wholeNumber("requests per minute", 600),
  MAX_BODY_BYTES: wholeNumber("bytes", 16 * 1024 * 1024),
  MAX_INPUT_BYTES: wholeNumber("bytes", 50 * 1024 * 1024),
  RUNNER_LIVE_S: wholeNumber("seconds", 90),
});

export interface GatewayConfig {
  /** Per-key limit when neither the key nor its tenant sets one. */
  requestsPerMinute: number;
  /** Largest request body accepted anywhere. */
  maxBodyBytes: number;
  /** Largest input image (uploaded file or fetched URL). */
  maxInputBytes: number;
  /** A runner counts as live (pool stats, capabilities, estimates, pool groups) this long after its last lease call. */
  runnerLiveMs: number;
  jobs: JobConfig;
}

export function parseGatewayConfig(env: object): GatewayConfig {
  const v = parseVars(GatewayVars, env);
  return {
    requestsPerMinute: v.DEFAULT_REQUESTS_PER_MINUTE,
    maxBodyBytes: v.MAX_BODY_BYTES,
    maxInputBytes: v.MAX_INPUT_BYTES,
    runnerLiveMs: v.RUNNER_LIVE_S * 1000,
    jobs: toJobConfig(v),
  };
}

/** The parsed config of this `env` (memoised per env object); throws ConfigError. */
export const gatewayConfig: (env: object) => GatewayConfig = memoPerEnv(parseGatewayConfig);
