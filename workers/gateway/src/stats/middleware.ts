/**
 * Request monitoring middleware: after each answer, adds (route pattern, method, tenant, status class,
 * latency) to the isolate's aggregator (aggregator.ts) and, when a flush is due, starts it at once in the
 * request's waitUntil (flush.ts; no timer). No storage call on the request path: the only extra work is a Map
 * update.
 *
 *   app.use("*", requestStats({ stats, skipPrefixes: ["/console", "/health"] }))
 *
 * The route is Hono's matched route pattern (`/v1/jobs/:id`, never the raw URL), so ids do not multiply the
 * rows; a request no route matched counts as `(unmatched)`. The tenant is the API key's tenant when the
 * request authenticated with one, else a caller label (classify.ts: `(unauthenticated)` for a 401, `(admin)`,
 * `(runner)`). The runner protocol's normal 4xx answers are marked expected (classify.ts). Latency is the time
 * to the answer's headers (for SSE streams: to the start of the stream; long polls: the whole wait).
 *
 * When the deployment binds a Workers Analytics Engine dataset under `datasetBinding` (default
 * `REQUEST_STATS_AE`; optional, see docs/monitoring.md), every request is also written there as one data
 * point (blobs: route, method, tenant, status class; doubles: latency ms, status; index: tenant).
 */
import { ApiError } from "@comfy-edge/shared/errors";
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv, AuthContext } from "../types.ts";
import { StatsAggregator } from "./aggregator.ts";
import { callerKey, isExpectedOutcome } from "./classify.ts";
import { flushIfDue } from "./flush.ts";

export const UNMATCHED_ROUTE = "(unmatched)";

/** The app's env as the stats middleware extends it: routes reach this isolate's aggregator. */
export interface StatsEnv extends AppEnv {
  Variables: AppEnv["Variables"] & { requestStats?: StatsAggregator };
}

/** This isolate's pending counts (set by the middleware on every request; undefined without it). */
export function pendingStats(c: Context<AppEnv>): StatsAggregator | undefined {
  return (c as Context<StatsEnv>).get("requestStats");
}

export interface RequestStatsOptions {
  /** The isolate's aggregator (the worker's cron flushes the same one); a new one when not given. */
  stats?: StatsAggregator;
  /** Path prefixes not measured (the console's page and assets, the liveness check). */
  skipPrefixes?: string[];
  /** Name of an optional Analytics Engine binding that also receives every request. */
  datasetBinding?: string;
}

function dataset(env: object, binding: string): AnalyticsEngineDataset | null {
  const value: unknown = Reflect.get(env, binding);
  if (typeof value !== "object" || value === null) return null;
  return "writeDataPoint" in value && typeof value.writeDataPoint === "function"
    ? (value as AnalyticsEngineDataset)
    : null;
}

/** The request's ExecutionContext; none when the app is called without one (then nothing is flushed). */
function executionContext(c: Context<AppEnv>): { waitUntil(p: Promise<unknown>): void } | null {
  try {
    return c.executionCtx;
  } catch {
    return null;
  }
}

export function requestStats(options: RequestStatsOptions = {}): MiddlewareHandler<AppEnv> {
  const skip = (options.skipPrefixes ?? []).map((p) => {
    if (!p.startsWith("/")) throw new Error(`requestStats: skip prefix must start with '/', got ${JSON.stringify(p)}`);
    return p;
  });
  const binding = options.datasetBinding ?? "REQUEST_STATS_AE";
  const stats = options.stats ?? new StatsAggregator();
  return async (c, next) => {
    (c as Context<StatsEnv>).set("requestStats", stats);
    const path = c.req.path;
    // CORS preflights are the browser's, not the client's requests.
    if (c.req.method === "OPTIONS" || skip.some((p) => path === p || path.startsWith(`${p}/`))) return next();
    const at = Date.now();
    await next();
    const latencyMs = Date.now() - at;
    let route = UNMATCHED_ROUTE;
    for (const r of matchedRoutes(c)) if (r.method !== "ALL") route = r.path;
    // c.get, not c.var (which copies every variable into a new object).
    const auth = c.get("auth") as AuthContext | undefined;
    const method = c.req.method;
    const status = c.res.status;
    const tenantId = callerKey(auth?.tenantId ?? c.get("refusedTenantId"), status, route);
    const code = c.error instanceof ApiError ? c.error.code : null;
    const expected = isExpectedOutcome(method, route, status, code);
    stats.record({ at, route, method, tenantId, status, expected, latencyMs });
    dataset(c.env, binding)?.writeDataPoint({
      blobs: [route, method, tenantId, `${Math.floor(status / 100)}xx`, expected ? "expected" : ""],
      doubles: [latencyMs, status],
      indexes: [tenantId || "-"],
    });
    const ctx = executionContext(c);
    if (ctx) flushIfDue(c.env.DB, stats, (p) => ctx.waitUntil(p), c.get("requestId"));
  };
}
