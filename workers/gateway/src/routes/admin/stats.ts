/**
 * `GET /admin/v1/stats?window=1h|24h&tenant=&route=&category=`: request rate, p50/p95 latency and error
 * rates per route and per tenant, the runner protocol apart from the API (docs/monitoring.md), from D1 `request_stats`. This isolate's pending counts are
 * written first, so the answer includes them; other isolates' reach D1 within about 10 s.
 */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { RequestStats, StatsQuery } from "@comfy-edge/shared/contract/stats";
import { Hono } from "hono";
import { readQuery } from "../../lib/body.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { flushPending } from "../../stats/flush.ts";
import { pendingStats } from "../../stats/middleware.ts";
import { readStats } from "../../stats/query.ts";
import type { AppEnv } from "../../types.ts";

export const statsRoutes = new Hono<AppEnv>();

statsRoutes.get("/", async (c) => {
  const query = readQuery(c, StatsQuery);
  const pending = pendingStats(c);
  if (pending) await flushPending(c.env.DB, pending, c.get("requestId"));
  const filter = { ...query, perTenant: true };
  return c.json(await readStats(c.env.DB, filter, Date.now()));
});

export const statsDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/admin/v1/stats",
    summary: "Request rate, latency and errors per route and tenant",
    description:
      "Requests per second, p50/p95 latency and 4xx/5xx rates over the last hour (per-minute series) or day " +
      "(15-minute series), in total, per route pattern and method, and per tenant or caller (`unauthenticated`: " +
      "refused at authentication). `category` picks the tenant-facing API (default), the admin API or the " +
      "runner protocol (long polls, whose latency is the wait); `categories` sums each. The runner's normal " +
      "4xx answers (cancel-wait 409 lease_lost at the end of a job) count as `expected`, not as errors. " +
      "Latency is measured in the " +
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
