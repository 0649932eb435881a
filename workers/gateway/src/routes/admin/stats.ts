/**
 * `GET /admin/v1/stats?window=1h|24h&tenant=&route=`: request rate, p50/p95 latency and error rates per
 * route and per tenant (docs/monitoring.md), from D1 `request_stats`. This isolate's pending counts are
 * written first, so the answer includes them; other isolates' reach D1 within about 10 s.
 */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { RequestStats, StatsQuery } from "@comfy-edge/shared/contract/stats";
import { Hono } from "hono";
import { readQuery } from "../../lib/body.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { flushStats } from "../../stats/flush.ts";
import { pendingStats } from "../../stats/middleware.ts";
import { readStats } from "../../stats/query.ts";
import type { AppEnv } from "../../types.ts";

export const statsRoutes = new Hono<AppEnv>();

statsRoutes.get("/", async (c) => {
  const query = readQuery(c, StatsQuery);
  const pending = pendingStats(c);
  if (pending) await flushStats(c.env.DB, pending, Date.now(), c.get("requestId"));
  const tenantId = query.tenant === undefined ? undefined : query.tenant === "-" ? "" : query.tenant;
  return c.json(
    await readStats(c.env.DB, { window: query.window, tenantId, route: query.route, perTenant: true }, Date.now()),
  );
});

export const statsDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/admin/v1/stats",
    summary: "Request rate, latency and errors per route and tenant",
    description:
      "Requests per second, p50/p95 latency and 4xx/5xx rates over the last hour (per-minute series) or day " +
      "(15-minute series), in total, per route pattern and method, and per tenant. Latency is measured in the " +
      "gateway from the request to the answer's headers; percentiles come from log-scale histograms (within " +
      "about 19 %). Counts reach the report within about 10 s. The console, /health and OPTIONS preflights are " +
      "not counted.",
    tag: "Admin",
    security: "admin",
    query: StatsQuery,
    responses: {
      200: { description: "Request figures", schema: RequestStats },
      400: { description: "Bad window, tenant or route, or an unknown parameter", schema: ErrorEnvelope },
    },
  },
];
