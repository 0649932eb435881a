import { Hono } from "hono";
import { z } from "zod";
import { ErrorEnvelope } from "../../../shared/contract/index.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { poolStub } from "../pools/access.ts";
import type { AppEnv } from "../types.ts";
import type { PoolRow } from "./admin/rows.ts";

export const PoolView = z
  .object({
    name: z.string(),
    region: z.string().nullable(),
    default: z.boolean(),
    runners: z.int().describe("Runners that asked for work in the last 90 s"),
    queued: z.int(),
    running: z.int(),
  })
  .meta({ id: "PoolView" });

export const poolRoutes = new Hono<AppEnv>();
poolRoutes.use("*", apiKeyAuth({ scope: "jobs" }));

/** The pools this tenant may use (pools without a tenant list are open to every tenant). */
poolRoutes.get("/", async (c) => {
  const { tenant } = c.get("auth");
  const { results } = await c.env.DB.prepare(
    `SELECT * FROM pools
      WHERE tenants IS NULL OR EXISTS (SELECT 1 FROM json_each(pools.tenants) WHERE json_each.value = ?)
      ORDER BY name`,
  )
    .bind(tenant.id)
    .all<PoolRow>();
  const defaultPool = tenant.default_pool ?? "local";
  const stats = await Promise.all(results.map((p) => poolStub(c.env, p.name).stats()));
  return c.json({
    data: results.map((p, i) => ({ name: p.name, region: p.region, default: p.name === defaultPool, ...stats[i]! })),
  });
});

export const poolDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/v1/pools",
    summary: "List the GPU pools this API key's tenant may use, with live runner, queued and running counts",
    tag: "Jobs",
    security: "apiKey",
    scope: "jobs",
    responses: {
      200: { description: "Pools", schema: z.object({ data: z.array(PoolView) }) },
      401: { description: "Missing, invalid or revoked API key", schema: ErrorEnvelope },
      403: { description: "Key lacks the jobs scope", schema: ErrorEnvelope },
      429: { description: "Rate limited", schema: ErrorEnvelope },
    },
  },
];
