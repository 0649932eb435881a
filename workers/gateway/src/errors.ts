/**
 * The one place that renders errors: every failure leaves the gateway in the envelope
 * `{"error": {type, code, message, param, request_id}}` (OpenAI-compatible shape).
 */

import { ConfigError } from "@comfy-edge/shared/config";
import { ApiError } from "@comfy-edge/shared/errors";
import { log } from "@comfy-edge/shared/log";
import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { newRequestId } from "./middleware/request-id.ts";
import type { AppEnv } from "./types.ts";

const CODE_BY_STATUS: Record<number, string> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
};

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ConfigError) {
    // An operator error: the client learns which setting, never its value (the log has the details).
    return new ApiError(
      503,
      "misconfigured",
      `This deployment is misconfigured: ${err.variable} is invalid. The operator has to fix it; retrying will not help until then.`,
      { headers: { "x-should-retry": "false" } },
    );
  }
  if (err instanceof HTTPException && err.status < 500) {
    return new ApiError(err.status, CODE_BY_STATUS[err.status] ?? "invalid_request", err.message || "Bad request.");
  }
  return new ApiError(
    500,
    "internal_error",
    "Something went wrong on our side. Retry the request; if it keeps failing, report the request_id.",
  );
}

const DRAIN_LIMIT = 1024 * 1024;

/**
 * Reads and discards a small request body the handler never read, so the client's keep-alive
 * connection stays usable (an unread body otherwise resets it for the next request).
 */
async function drainBody(c: Context<AppEnv>): Promise<void> {
  const raw = c.req.raw;
  if (!raw.body || raw.bodyUsed) return;
  const length = Number(c.req.header("content-length") ?? Number.NaN);
  if (!(length <= DRAIN_LIMIT)) return;
  try {
    await raw.arrayBuffer();
  } catch {
    // The body was locked or already cancelled by a reader: nothing left to drain.
  }
}

export async function renderError(err: unknown, c: Context<AppEnv>): Promise<Response> {
  await drainBody(c);
  let requestId = c.get("requestId");
  if (!requestId) {
    requestId = newRequestId();
    c.set("requestId", requestId);
  }
  const apiError = toApiError(err);
  if (apiError.status >= 500 && !(err instanceof ApiError)) {
    // Unexpected: log what happened (never request bodies or headers, which may hold secrets).
    const e = err instanceof Error ? err : new Error(String(err));
    log("error", { request_id: requestId }, e.message, { error: e.name, stack: e.stack });
  }
  const body = {
    error: {
      type: apiError.type,
      code: apiError.code,
      message: apiError.message,
      param: apiError.param,
      request_id: requestId,
      ...apiError.details,
    },
  };
  // c.json keeps headers that middleware already prepared (x-request-id, RateLimit-*).
  return c.json(body, apiError.status as ContentfulStatusCode, { "x-request-id": requestId, ...apiError.headers });
}

function pathPattern(path: string): RegExp {
  const source = path
    .split("/")
    .map((segment) => {
      if (segment === "*") return ".*";
      if (segment.startsWith(":")) return "[^/]+";
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return new RegExp(`^${source}/?$`);
}

/** 404 for unknown routes, 405 (with `Allow`) when the path exists under other methods. */
export function notFoundHandler(app: Hono<AppEnv>) {
  return (c: Context<AppEnv>): Promise<Response> => {
    const path = c.req.path;
    const allowed = new Set<string>();
    for (const route of app.routes) {
      if (route.method === "ALL") continue;
      if (pathPattern(route.path).test(path)) allowed.add(route.method);
    }
    if (allowed.size > 0) {
      if (allowed.has("GET")) allowed.add("HEAD");
      const allow = [...allowed].sort().join(", ");
      return renderError(
        new ApiError(405, "method_not_allowed", `${c.req.method} is not allowed on ${path}; use ${allow}.`, {
          headers: { allow },
        }),
        c,
      );
    }
    return renderError(new ApiError(404, "not_found", `No route ${c.req.method} ${path}. See /docs for the API.`), c);
  };
}
