/**
 * `GET /v1/usage/stats?window=1h|24h&route=`: the calling key's tenant's own request figures (rate, p50/p95
 * latency, error rates per route), from D1 `request_stats`; never another tenant's. Mounted under
 * `/v1/usage` (routes/usage.ts), whose API-key auth it shares.
 */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { RequestStats, TenantStatsQuery } from "@comfy-edge/shared/contract/stats";
import { Hono } from "hono";
import { readQuery } from "../lib/body.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { flushPending } from "../stats/flush.ts";
import { pendingStats } from "../stats/middleware.ts";
import { readStats } from "../stats/query.ts";
import type { AppEnv } from "../types.ts";

export const usageStatsRoutes = new Hono<AppEnv>();

usageStatsRoutes.get("/", async (c) => {
  const query = readQuery(c, TenantStatsQuery);
  const pending = pendingStats(c);
  if (pending) await flushPending(c.env.DB, pending, c.get("requestId"));
  const { tenantId } = c.get("auth");
  const filter = {
    window: query.window,
    tenant: tenantId,
    route: query.route,
    category: "api" as const,
    perTenant: false,
  };
  return c.json(await readStats(c.env.DB, filter, Date.now()));
});

export const usageStatsDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/v1/usage/stats",
    summary: "Request rate, latency and errors of the calling key's tenant",
    description:
      "The tenant's own requests over the last hour (per-minute series) or day (15-minute series): requests " +
      "per second, p50/p95 latency and 4xx/5xx rates, in total and per route. Any valid key may read its " +
      "tenant's figures. Counts reach the report within about 10 s.",
    tag: "LLM",
    security: "apiKey",
    query: TenantStatsQuery,
    responses: {
      200: { description: "Request figures", schema: RequestStats },
      400: { description: "Bad window or route, or an unknown parameter", schema: ErrorEnvelope },
      401: { description: "Missing, invalid or revoked API key", schema: ErrorEnvelope },
      429: { description: "Rate limited", schema: ErrorEnvelope },
    },
  },
];
