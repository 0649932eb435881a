/**
 * What every operation shares, added by the document builder so route modules only state what is
 * their own: the error envelope with every detail field the gateway may add, the headers every
 * response carries, and the failures every body, credential or rate limit can cause.
 */

import { ErrorEnvelope, type Scope } from "@comfy-edge/shared/contract";
import { z } from "zod";
import type { HeaderDoc, ResponseDoc, RouteDoc } from "./route-doc.ts";

/**
 * The `Error` component: the contract's envelope plus the detail fields some errors carry
 * (ApiError `details`, rendered inside `error`). A new detail field must be added here.
 */
export const ErrorDoc = z.object({
  error: ErrorEnvelope.shape.error.extend({
    type: z.string().meta({ description: "OpenAI-style category: invalid_request_error, authentication_error, ..." }),
    code: z.string().meta({ description: "Machine-readable cause, e.g. invalid_request, unsafe_url, rate_limited" }),
    message: z.string().meta({ description: "What was expected, what came, and what to do" }),
    param: z.string().nullable().meta({ description: "The field, query parameter or header at fault" }),
    limit_bytes: z.int().optional().meta({ description: "413: the size limit that was exceeded" }),
    job_id: z.string().optional().meta({ description: "409 idempotency_conflict: the job the key belongs to" }),
    status: z.string().optional().meta({ description: "409 job_finished: the job's final status" }),
    pool: z.record(z.string(), z.unknown()).optional().meta({ description: "409 pool_exists: the existing pool" }),
    upstream: z.string().optional().meta({ description: "LLM errors: the upstream's name" }),
    upstream_status: z.int().nullable().optional().meta({ description: "LLM errors: the upstream's HTTP status" }),
    reason: z.string().optional().meta({ description: "A finer cause" }),
    closest: z.array(z.string()).optional().meta({
      description: "422 unknown_node_class, model_not_available, invalid_input_value: the nearest names the pool has",
    }),
    folder: z.string().optional().meta({ description: "422 model_not_available: the model folder" }),
    estimated_wait_s: z
      .number()
      .nullable()
      .optional()
      .meta({ description: "503 pool_saturated: the pool's wait estimate (null: no live runner)" }),
  }),
});

export const ERROR_EXAMPLE = {
  error: {
    type: "invalid_request_error",
    code: "invalid_request",
    message: "workflow.7.inputs.clip: expected a link [node_id, output_index], got a number",
    param: "workflow.7.inputs.clip",
    request_id: "req_01JD4Z6Q8XH0W0E6M2K3N4P5R6",
  },
};

const int = z.int().min(0);

export const REQUEST_ID_HEADER: HeaderDoc = {
  description: "The request's id (also in error bodies as request_id): quote it when reporting a problem",
  required: true,
  example: "req_01JD4Z6Q8XH0W0E6M2K3N4P5R6",
};

/** Sent with every response of an authenticated API-key request (not with 401, nor a per-IP 429). */
export const RATE_LIMIT_HEADERS: Record<string, HeaderDoc> = {
  "RateLimit-Limit": { description: "Requests per minute allowed for this API key", schema: int, example: "600" },
  "RateLimit-Remaining": { description: "Requests left in the current window", schema: int, example: "599" },
  "RateLimit-Reset": { description: "Seconds until the window resets", schema: int, example: "42" },
};

export const RETRY_AFTER_HEADER: HeaderDoc = {
  description: "Seconds to wait before retrying",
  schema: z.int().min(0),
  required: true,
  example: "10",
};

/** What the OpenAI SDKs read to decide on a retry: the gateway already retried the upstreams. */
export const SHOULD_RETRY_HEADER: HeaderDoc = {
  description: "`false` on an upstream failure the gateway already retried: clients should not retry it again",
  schema: z.enum(["true", "false"]),
  example: "false",
};

const E = (description: string): ResponseDoc => ({ description, schema: ErrorEnvelope });

/**
 * The error responses an API-key route states in its own words: 401, 403 when it needs a scope, 429 ("Rate
 * limited" unless `described` says more), and a 404 when `described` names what may be missing.
 */
export function authedJsonErrors(
  scope: Scope | null,
  described: { 404?: string; 429?: string } = {},
): Record<number, ResponseDoc> {
  const out: Record<number, ResponseDoc> = {
    401: E("Missing, invalid or revoked API key"),
    429: E(described[429] ?? "Rate limited"),
  };
  if (scope) out[403] = E(`Key lacks the ${scope} scope`);
  if (described[404]) out[404] = E(described[404]);
  return out;
}

/** Failures every route of a kind can answer with, unless the route states its own. */
export function commonResponses(route: RouteDoc): Record<number, ResponseDoc> {
  const out: Record<number, ResponseDoc> = {};
  if (route.body) {
    out[400] = E("Malformed JSON (`invalid_json`) or a field of the wrong shape (`invalid_request`, `param` names it)");
    out[413] = E("Body larger than the route's limit (`payload_too_large`, `limit_bytes`)");
    out[415] = E("Body not sent as `Content-Type: application/json` (`unsupported_media_type`)");
  }
  if (route.security === "apiKey") {
    out[401] = E("Missing, invalid or revoked API key (`missing_api_key`, `invalid_api_key`, `revoked_api_key`)");
    if (route.scope) out[403] = E(`The key lacks the \`${route.scope}\` scope (\`insufficient_scope\`)`);
    out[429] = E("Rate limited (`rate_limited`: this key's requests per minute, or bad credentials from this address)");
  } else if (route.security === "admin") {
    out[401] = E("Missing or invalid admin token");
    out[429] = E("Too many bad credentials from this address (`rate_limited`)");
  } else if (route.security === "runner") {
    out[401] = E("Missing, invalid or revoked runner token");
    out[429] = E("Too many bad credentials from this address (`rate_limited`)");
  }
  return out;
}

/** Headers a response of this status carries on every route of this kind. */
export function commonResponseHeaders(route: RouteDoc, status: number): Record<string, HeaderDoc> {
  const headers: Record<string, HeaderDoc> = { "x-request-id": REQUEST_ID_HEADER };
  if (route.security === "apiKey") {
    // 401 comes before the key is known; a 429 for bad credentials is per address, without a key's window.
    const always = status !== 401 && status !== 429;
    for (const [name, h] of Object.entries(RATE_LIMIT_HEADERS)) headers[name] = { ...h, required: always };
  }
  if (status === 429 || status === 503) headers["Retry-After"] = { ...RETRY_AFTER_HEADER, required: status === 429 };
  if (route.scope === "llm" && status >= 400) headers["x-should-retry"] = SHOULD_RETRY_HEADER;
  return headers;
}
