import { Hono } from "hono";
import { z } from "zod";
import { ErrorEnvelope } from "../../../shared/contract/index.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";
import type { PoolRow } from "./admin/rows.ts";

export const PoolView = z
  .object({ name: z.string(), region: z.string().nullable(), default: z.boolean() })
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
  return c.json({ data: results.map((p) => ({ name: p.name, region: p.region, default: p.name === defaultPool })) });
});

export const poolDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/v1/pools",
    summary: "List the GPU pools this API key's tenant may use",
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
