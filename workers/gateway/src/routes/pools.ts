import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { PoolModelState } from "@comfy-edge/shared/contract/models";
import { PoolRunnerView } from "@comfy-edge/shared/contract/pools";
import { ApiError } from "@comfy-edge/shared/errors";
import { Hono } from "hono";
import { z } from "zod";
import { capabilitiesView, PoolCapabilitiesView } from "../capabilities/public-view.ts";
import { gatewayConfig } from "../config.ts";
import { nodePolicyReader, policyLayers } from "../jobs/node-policy.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import { getManifest, runnerReports } from "../models/store.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { poolStub, requirePoolAccess } from "../pools/access.ts";
import { modelState } from "../pools/model-view.ts";
import { mergeRunners } from "../pools/runners-view.ts";
import { allShardStubs, poolMetricsAll, poolStatsAll } from "../pools/shards.ts";
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
  const stats = await Promise.all(results.map((p) => poolStatsAll(c.env, p.name)));
  return c.json({
    data: results.map((p, i) => ({ name: p.name, region: p.region, default: p.name === defaultPool, ...stats[i]! })),
  });
});

const readNodePolicy = nodePolicyReader();

export const PoolDetailView = PoolView.extend({
  estimated_wait_s: z.number().nullable().describe("Estimated wait of a job submitted now; null: no live runner"),
  runner_list: z
    .array(PoolRunnerView)
    .describe("Runners seen in the last 24 h, most recent first (at most 200); `runners` stays the live count"),
  models: PoolModelState,
}).meta({ id: "PoolDetailView" });

/** One pool this tenant may use: its counts and its runners' model state (no host paths). */
poolRoutes.get("/:name", async (c) => {
  const { tenant, tenantId } = c.get("auth");
  const name = c.req.param("name");
  const pool = await requirePoolAccess(c.env, name, tenantId, null).catch((err: unknown) => {
    if (err instanceof ApiError && err.code === "unknown_pool")
      throw new ApiError(404, "pool_not_found", `No pool named '${name.slice(0, 80)}' that this tenant may use.`);
    throw err;
  });
  const [row, stats, metrics, runners, manifest, reports] = await Promise.all([
    c.env.DB.prepare("SELECT region FROM pools WHERE name = ?").bind(pool.name).first<{ region: string | null }>(),
    poolStatsAll(c.env, pool.name),
    poolMetricsAll(c.env, pool.name),
    allShardStubs(c.env, pool.name).then((stubs) => Promise.all(stubs.map((s) => s.runnersView()))),
    getManifest(c.env.DB, pool.name),
    runnerReports(c.env.DB, pool.name),
  ]);
  return c.json({
    name: pool.name,
    region: row?.region ?? null,
    default: pool.name === (tenant.default_pool ?? "local"),
    ...stats,
    estimated_wait_s: metrics.estimated_wait_s,
    runner_list: mergeRunners(runners, Date.now(), gatewayConfig(c.env).runnerLiveMs),
    models: modelState(manifest, reports),
  });
});

/** What the pool's live runners can run, as this tenant may use it (no host paths). */
poolRoutes.get("/:name/capabilities", async (c) => {
  const { tenant, tenantId } = c.get("auth");
  const name = c.req.param("name");
  const pool = await requirePoolAccess(c.env, name, tenantId, null).catch((err: unknown) => {
    if (err instanceof ApiError && err.code === "unknown_pool")
      throw new ApiError(404, "pool_not_found", `No pool named '${name.slice(0, 80)}' that this tenant may use.`);
    throw err;
  });
  const caps = await poolStub(c.env, pool.name).capabilities();
  const layers = policyLayers(readNodePolicy(c.env), pool.node_policy, tenant.node_policy);
  return c.json(capabilitiesView(pool.name, caps, layers));
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
  {
    method: "get",
    path: "/v1/pools/:name",
    summary: "One GPU pool: its runners, queue depth and wait estimate, and its runners' model files",
    description:
      "`runner_list`: the runners seen in the last 24 h with their own label, runner and ComfyUI versions, GPU (from their capability report), slots, last lease and `live`/`stale`; `estimated_wait_s`: the wait of a job submitted now. `models`: the pool's manifest files with how many runners hold (`present`), wait for, fetch (`downloading`) or failed each, and per runner its state and counts (docs/models.md). Names and counts only.",
    tag: "Jobs",
    security: "apiKey",
    scope: "jobs",
    responses: {
      200: { description: "The pool", schema: PoolDetailView },
      401: { description: "Missing, invalid or revoked API key", schema: ErrorEnvelope },
      403: { description: "Key lacks the jobs scope", schema: ErrorEnvelope },
      404: { description: "No such pool for this tenant", schema: ErrorEnvelope },
      429: { description: "Rate limited", schema: ErrorEnvelope },
    },
  },
  {
    method: "get",
    path: "/v1/pools/:name/capabilities",
    summary: "Node classes (with input specs) and model files the pool's live runners have",
    description:
      "The union of the live runners' capability reports; classes the node policy refuses for this tenant are left out. Submits to the pool are checked against it (422 `unknown_node_class`, `model_not_available`, `invalid_input_value`, `missing_input`): docs/capabilities.md.",
    tag: "Jobs",
    security: "apiKey",
    scope: "jobs",
    responses: {
      200: { description: "Capabilities", schema: PoolCapabilitiesView },
      401: { description: "Missing, invalid or revoked API key", schema: ErrorEnvelope },
      403: { description: "Key lacks the jobs scope", schema: ErrorEnvelope },
      404: { description: "No such pool for this tenant", schema: ErrorEnvelope },
      429: { description: "Rate limited", schema: ErrorEnvelope },
    },
  },
];
