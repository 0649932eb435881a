/** Request monitoring (docs/monitoring.md): `GET /admin/v1/stats`, `GET /v1/usage/stats`. */
import { z } from "zod";
export const StatsWindow = z.enum(["1h", "24h"]);

export const TenantStatsQuery = z
  .object({
    window: StatsWindow.default("1h").meta({ description: "The last hour (per-minute series) or day (15-minute)" }),
    route: z
      .string()
      .min(1)
      .max(300)
      .optional()
      .meta({ description: "Only this route pattern, as listed in `routes` (e.g. /v1/jobs/:id)" }),
  })
  .strict();

export const StatsCategory = z.enum(["api", "admin", "runner"]);

export const StatsQuery = TenantStatsQuery.extend({
  tenant: z.string().min(1).max(64).optional().meta({
    description:
      "Only this tenant's requests, or a caller without a tenant: `unauthenticated` (refused at authentication, 401), `admin`, `runner`, `no_key` (public routes); `-`: all of those",
  }),
  category: z.enum(["api", "admin", "runner", "all"]).optional().meta({
    description:
      "Which requests `totals`, `series`, `routes` and `tenants` cover: `api` (the tenant-facing API; the default), `admin`, `runner` (the runners' protocol, long polls included) or `all`; with `route`, the route's own",
  }),
}).strict();

export const RequestFigures = z
  .object({
    requests: z.number().int(),
    rps: z.number().describe("Requests per second over the window"),
    p50_ms: z.number().nullable().describe("Median latency (from log-scale buckets, within about 19 %)"),
    p95_ms: z.number().nullable(),
    mean_ms: z.number().nullable(),
    error_rate: z.number().describe("Share of 5xx answers"),
    client_error_rate: z.number().describe("Share of 4xx answers, leaving out `expected` ones"),
    expected: z
      .number()
      .int()
      .describe(
        "4xx answers that are the route's normal protocol outcome (the runner's cancel-wait 409 lease_lost when its job ends, the lease's 409 capabilities_required); counted in `status`, not in the error rates",
      ),
    status: z.object({
      "2xx": z.number().int(),
      "3xx": z.number().int(),
      "4xx": z.number().int(),
      "5xx": z.number().int(),
    }),
  })
  .meta({ id: "RequestFigures" });

export const RequestStats = z
  .object({
    object: z.literal("request_stats"),
    window: StatsWindow,
    from: z.string(),
    to: z.string(),
    step_s: z.number().int().describe("Width of each point of `series`"),
    tenant_id: z.string().nullable().describe("The tenant filter, if any"),
    route: z.string().nullable().describe("The route filter, if any"),
    category: z.enum(["api", "admin", "runner", "all"]).describe("The requests the figures cover"),
    totals: RequestFigures,
    categories: z
      .array(RequestFigures.extend({ category: StatsCategory }))
      .describe("Each category's figures over the window (same tenant and route filters)"),
    routes: z.array(
      RequestFigures.extend({
        method: z.string(),
        route: z.string(),
        category: StatsCategory,
        long_poll: z.boolean().describe("A runner long poll: its latency is the wait, by design"),
      }),
    ),
    tenants: z
      .array(
        RequestFigures.extend({
          tenant_id: z.string().nullable().describe("null: a caller without a tenant (see `caller`)"),
          caller: z
            .enum(["tenant", "unauthenticated", "admin", "runner", "no_key"])
            .describe("unauthenticated: refused at authentication (401); no_key: public routes, unmatched paths"),
        }),
      )
      .optional()
      .describe("Per tenant or caller (operator view only)"),
    series: z.array(
      z.object({
        t: z.string().describe("Start of the point"),
        requests: z.number().int(),
        client_errors: z.number().int().describe("4xx answers other than expected ones"),
        errors: z.number().int(),
        p50_ms: z.number().nullable(),
        p95_ms: z.number().nullable(),
      }),
    ),
  })
  .meta({ id: "RequestStats" });
export type RequestStats = z.infer<typeof RequestStats>;
export type RequestFigures = z.infer<typeof RequestFigures>;
