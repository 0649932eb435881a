/**
 * LLM proxy configuration from env vars (docs/llm.md):
 *   LLM_UPSTREAMS     JSON array of upstreams (below), or
 *   LLM_UPSTREAM_URL  one upstream serving every model (no API key),
 *   LLM_CACHE_SCOPE   "tenant" (default) | "global",
 *   LLM_CACHE_TTL_S   default answer TTL in seconds (clamped to 60 .. 30 days, default 3600).
 * Parsed once per distinct set of values (memoised in the closure `configReader()` returns). A broken
 * LLM_UPSTREAMS is an operator error: it is logged once and every LLM request answers 503
 * `llm_not_configured` until it is fixed.
 */

import { ConfigError, parseVars, wholeNumber } from "@comfy-edge/shared/config";
import { ApiError } from "@comfy-edge/shared/errors";
import { z } from "zod";

export const DEFAULT_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_RETRIES = 2;
export const DEFAULT_CACHE_TTL_S = 3600;
/** KV's smallest `expirationTtl`. */
export const MIN_CACHE_TTL_S = 60;
export const MAX_CACHE_TTL_S = 30 * 24 * 3600;

const UpstreamConfig = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "must be 1-63 letters, digits, '_', '.' or '-'"),
    base_url: z
      .url({ protocol: /^https?$/ })
      .refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), "must not carry credentials; name a secret in api_key_secret"),
    /** Name of the Worker secret holding the upstream's API key (sent as `Authorization: Bearer`). */
    api_key_secret: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/)
      .optional(),
    /** Name of a Fetcher binding (Workers VPC service, service binding) to send requests through. */
    binding: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/)
      .optional(),
    /** Exact model names or `*` wildcards (`llama3*`, `*`). */
    models: z.array(z.string().min(1).max(256)).min(1).max(1000),
    timeout_ms: z.int().min(100).max(900_000).default(DEFAULT_TIMEOUT_MS),
    /** Lower is tried first; ties keep the order of the list. */
    priority: z.int().min(-1_000_000).max(1_000_000).default(0),
    /** Retries on the same upstream (connection error, 429, 5xx) before falling back to the next. */
    max_retries: z.int().min(0).max(5).default(DEFAULT_MAX_RETRIES),
  })
  .strict();

const UpstreamList = z
  .array(UpstreamConfig)
  .max(100)
  .refine((list) => new Set(list.map((u) => u.name)).size === list.length, "upstream names must be unique");

export interface Upstream {
  name: string;
  /** Without a trailing slash; requests go to `${baseUrl}/chat/completions`. */
  baseUrl: string;
  apiKeySecret: string | null;
  binding: string | null;
  models: string[];
  timeoutMs: number;
  priority: number;
  maxRetries: number;
  /** True when one of `models` matches. */
  serves(model: string): boolean;
  /** The exact (wildcard-free) model names, for GET /v1/models. */
  exactModels: string[];
  /** True when some pattern has a wildcard (GET /v1/models then asks the upstream). */
  hasWildcard: boolean;
}

export interface LlmConfig {
  /** Sorted by priority (stable). */
  upstreams: Upstream[];
  cacheScope: "tenant" | "global";
  cacheTtlS: number;
}

export type LlmVars = Pick<Env, "LLM_UPSTREAMS" | "LLM_UPSTREAM_URL" | "LLM_CACHE_SCOPE" | "LLM_CACHE_TTL_S">;

export type ConfigResult = { ok: true; config: LlmConfig } | { ok: false; reason: string; variable: string };

function globToRegExp(pattern: string): RegExp {
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${source}$`, "s");
}

function matcher(patterns: string[]): (model: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.includes("*")));
  const wild = patterns.filter((p) => p.includes("*")).map(globToRegExp);
  if (wild.length === 0) return (model) => exact.has(model);
  return (model) => exact.has(model) || wild.some((re) => re.test(model));
}

function toUpstream(u: z.output<typeof UpstreamConfig>): Upstream {
  return {
    name: u.name,
    baseUrl: u.base_url.replace(/\/+$/, ""),
    apiKeySecret: u.api_key_secret ?? null,
    binding: u.binding ?? null,
    models: u.models,
    timeoutMs: u.timeout_ms,
    priority: u.priority,
    maxRetries: u.max_retries,
    serves: matcher(u.models),
    exactModels: u.models.filter((m) => !m.includes("*")),
    hasWildcard: u.models.some((m) => m.includes("*")),
  };
}

const CacheVars = z.object({
  LLM_CACHE_SCOPE: z.preprocess(
    (v) => (typeof v === "string" && v.trim() !== "" ? v.trim().toLowerCase() : "tenant"),
    z.enum(["tenant", "global"], { error: (i) => `expected "tenant" or "global", got ${JSON.stringify(i.input)}` }),
  ),
  LLM_CACHE_TTL_S: wholeNumber("seconds", DEFAULT_CACHE_TTL_S).transform((n) =>
    Math.min(MAX_CACHE_TTL_S, Math.max(MIN_CACHE_TTL_S, n)),
  ),
});

/** Pure parse of the LLM vars (no logging, no memo). */
export function parseLlmConfig(vars: Partial<LlmVars>): ConfigResult {
  let cacheScope: LlmConfig["cacheScope"];
  let cacheTtlS: number;
  try {
    ({ LLM_CACHE_SCOPE: cacheScope, LLM_CACHE_TTL_S: cacheTtlS } = parseVars(CacheVars, vars));
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, reason: err.message, variable: err.variable };
    throw err;
  }
  const json = vars.LLM_UPSTREAMS?.trim() ?? "";
  const url = vars.LLM_UPSTREAM_URL?.trim() ?? "";
  let raw: unknown;
  if (json !== "") {
    try {
      raw = JSON.parse(json);
    } catch (err) {
      return {
        ok: false,
        reason: `LLM_UPSTREAMS is not valid JSON (${err instanceof Error ? err.message : err})`,
        variable: "LLM_UPSTREAMS",
      };
    }
  } else if (url !== "") {
    raw = [{ name: "default", base_url: url, models: ["*"] }];
  } else {
    return { ok: true, config: { upstreams: [], cacheScope, cacheTtlS } };
  }
  const parsed = UpstreamList.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
    const source = json !== "" ? "LLM_UPSTREAMS" : "LLM_UPSTREAM_URL";
    return { ok: false, reason: `${source} is invalid${where}: ${issue.message}`, variable: source };
  }
  const upstreams = parsed.data.map(toUpstream);
  // Array.prototype.sort is stable: equal priorities keep the configured order.
  upstreams.sort((a, b) => a.priority - b.priority);
  return { ok: true, config: { upstreams, cacheScope, cacheTtlS } };
}

/** 503 for an operator error; `x-should-retry: false`, since an SDK retry cannot fix the configuration. */
export function notConfigured(message: string): ApiError {
  return new ApiError(503, "llm_not_configured", message, { headers: { "x-should-retry": "false" } });
}

/**
 * Returns a reader that parses the config once per distinct set of values (a deployment has one) and
 * throws 503 `llm_not_configured` while it is broken. Create one per route factory, not per request.
 */
export function configReader(): (env: LlmVars) => LlmConfig {
  let memoKey: string | undefined;
  let memo: ConfigResult | undefined;
  return (env) => {
    const key = `${env.LLM_UPSTREAMS}\u0000${env.LLM_UPSTREAM_URL}\u0000${env.LLM_CACHE_SCOPE}\u0000${env.LLM_CACHE_TTL_S}`;
    if (key !== memoKey || memo === undefined) {
      memo = parseLlmConfig(env);
      memoKey = key;
      if (!memo.ok) console.error(JSON.stringify({ level: "error", msg: "llm config invalid", reason: memo.reason }));
    }
    if (!memo.ok) {
      throw notConfigured(
        `The LLM proxy is misconfigured on this deployment; the operator has to fix ${memo.variable}.`,
      );
    }
    return memo.config;
  };
}

/** The upstreams serving `model`, in the order to try them. */
export function candidatesFor(config: LlmConfig, model: string): Upstream[] {
  return config.upstreams.filter((u) => u.serves(model));
}

/** The upstreams serving `model`; 503 `llm_not_configured` when there are none at all, 404 `model_not_found`. */
export function requireCandidates(config: LlmConfig, model: string): Upstream[] {
  if (config.upstreams.length === 0) {
    throw notConfigured("No LLM upstream is configured on this deployment (LLM_UPSTREAMS or LLM_UPSTREAM_URL).");
  }
  const candidates = candidatesFor(config, model);
  if (candidates.length === 0) {
    throw new ApiError(
      404,
      "model_not_found",
      `No upstream serves the model '${model}'. GET /v1/models lists the models.`,
      { param: "model" },
    );
  }
  return candidates;
}

/** The upstream's API key, read from the secret it names (null when it names none). */
export function upstreamApiKey(env: Env, upstream: Upstream): string | null | undefined {
  if (upstream.apiKeySecret === null) return null;
  const value: unknown = Reflect.get(env, upstream.apiKeySecret);
  return typeof value === "string" && value !== "" ? value : undefined;
}

function isFetcher(value: unknown): value is Fetcher {
  return typeof value === "object" && value !== null && typeof Reflect.get(value, "fetch") === "function";
}

/** The Fetcher binding an upstream is reached through, or the global fetch. Undefined: binding missing. */
export function upstreamFetcher(env: Env, upstream: Upstream): typeof fetch | undefined {
  if (upstream.binding === null) return fetch;
  const binding: unknown = Reflect.get(env, upstream.binding);
  if (!isFetcher(binding)) return undefined;
  return (input, init) => binding.fetch(input as RequestInfo, init as RequestInit);
}
