import { ErrorEnvelope, Pool, PoolCreate, PoolPatch } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { forgetShardCount } from "@comfy-edge/shared/pool-shards/count";
import { Hono } from "hono";
import { z } from "zod";
import { nodePolicyToColumn } from "../../jobs/node-policy.ts";
import { readJson } from "../../lib/body.ts";
import { toJsonColumn } from "../../lib/json.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { forgetPool } from "../../pools/access.ts";
import { metricsText } from "../../pools/metrics-text.ts";
import { poolMetricsAll, poolStatsAll } from "../../pools/shards.ts";
import type { AppEnv } from "../../types.ts";
import { getPoolRow } from "./lookups.ts";
import { type PoolRow, toPool } from "./rows.ts";

export const poolAdminRoutes = new Hono<AppEnv>();

/** The deduplicated tenant list, or 422 unknown_tenant naming the first id that does not exist. */
async function knownTenants(db: D1Database, list: string[] | null | undefined): Promise<string[] | null> {
  const tenants = list ? [...new Set(list)] : null;
  if (tenants && tenants.length > 0) {
    const placeholders = tenants.map(() => "?").join(",");
    const { results } = await db
      .prepare(`SELECT id FROM tenants WHERE id IN (${placeholders})`)
      .bind(...tenants)
      .all<{ id: string }>();
    const known = new Set(results.map((r) => r.id));
    const index = tenants.findIndex((t) => !known.has(t));
    if (index >= 0) {
      throw new ApiError(422, "unknown_tenant", `No tenant with id '${tenants[index]}'.`, {
        param: `tenants[${index}]`,
      });
    }
  }
  return tenants;
}

poolAdminRoutes.post("/", async (c) => {
  const body = await readJson(c, PoolCreate, { maxBytes: 1024 * 1024 });
  const tenants = await knownTenants(c.env.DB, body.tenants);
  const row: PoolRow = {
    name: body.name,
    region: body.region ?? null,
    tenants: toJsonColumn(tenants),
    node_policy: nodePolicyToColumn(body.node_policy),
    shards: body.shards ?? 1,
    created_at: Date.now(),
  };
  const inserted = await c.env.DB.prepare(
    `INSERT INTO pools (name, region, tenants, node_policy, shards, created_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (name) DO NOTHING`,
  )
    .bind(row.name, row.region, row.tenants, row.node_policy, row.shards, row.created_at)
    .run();
  if (inserted.meta.changes === 0) {
    const existing = await getPoolRow(c.env.DB, body.name);
    throw new ApiError(409, "pool_exists", `A pool named '${body.name}' already exists.`, {
      param: "name",
      details: existing ? { pool: toPool(existing) } : undefined,
    });
  }
  await forgetPool(c.env, body.name);
  await forgetShardCount(c.env, caches.default, body.name);
  return c.json(toPool(row), 201);
});

poolAdminRoutes.get("/", async (c) => {
  const { results } = await c.env.DB.prepare("SELECT * FROM pools ORDER BY name").all<PoolRow>();
  return c.json({ data: results.map(toPool) });
});

async function existingPool(db: D1Database, name: string): Promise<PoolRow> {
  const row = await getPoolRow(db, name);
  if (!row) throw new ApiError(404, "pool_not_found", `No pool named '${name.slice(0, 80)}'.`);
  return row;
}

/**
 * A job's shard follows from its id and the shard count, so the count changes only while no shard holds a
 * queued or running job (a dispatch already on its way lands by the count its sender read; docs §7).
 */
async function requireIdle(env: Env, pool: string): Promise<void> {
  const stats = await poolStatsAll(env, pool);
  if (stats.queued > 0 || stats.running > 0) {
    throw new ApiError(
      409,
      "pool_busy",
      `shards can change only while the pool has no queued or running job; it has ${stats.queued} queued and ${stats.running} running.`,
      { param: "shards", details: { queued: stats.queued, running: stats.running } },
    );
  }
}

poolAdminRoutes.get("/:name", async (c) => c.json(toPool(await existingPool(c.env.DB, c.req.param("name")))));

poolAdminRoutes.patch("/:name", async (c) => {
  const body = await readJson(c, PoolPatch, { maxBytes: 1024 * 1024 });
  const current = await existingPool(c.env.DB, c.req.param("name"));
  const next: PoolRow = {
    ...current,
    region: body.region === undefined ? current.region : body.region,
    tenants: body.tenants === undefined ? current.tenants : toJsonColumn(await knownTenants(c.env.DB, body.tenants)),
    node_policy: body.node_policy === undefined ? current.node_policy : nodePolicyToColumn(body.node_policy),
    shards: body.shards ?? current.shards,
  };
  if (next.shards !== current.shards) await requireIdle(c.env, current.name);
  await c.env.DB.prepare("UPDATE pools SET region = ?, tenants = ?, node_policy = ?, shards = ? WHERE name = ?")
    .bind(next.region, next.tenants, next.node_policy, next.shards, next.name)
    .run();
  await forgetPool(c.env, next.name);
  await forgetShardCount(c.env, caches.default, next.name);
  return c.json(toPool(next));
});

poolAdminRoutes.get("/:name/metrics", async (c) => {
  const pool = await existingPool(c.env.DB, c.req.param("name"));
  const text = metricsText(pool.name, await poolMetricsAll(c.env, pool.name));
  return c.text(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
});

const errors = {
  400: { description: "Invalid request", schema: ErrorEnvelope },
  401: { description: "Missing or invalid admin token", schema: ErrorEnvelope },
};
const notFound = { 404: { description: "No such pool", schema: ErrorEnvelope } };

export const poolAdminDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/admin/v1/pools",
    summary: "Create a GPU pool",
    description:
      "`tenants` lists the tenants that may use the pool; absent or null means every tenant. `node_policy` sets which node classes its workflows may use (docs/node-policy.md). `shards` (default 1): Durable Objects serving its queue (docs/capabilities.md §7).",
    tag: "Admin",
    security: "admin",
    body: PoolCreate,
    responses: {
      201: { description: "Created", schema: Pool },
      ...errors,
      409: { description: "A pool with that name exists", schema: ErrorEnvelope },
      422: { description: "Unknown tenant", schema: ErrorEnvelope },
    },
  },
  {
    method: "get",
    path: "/admin/v1/pools",
    summary: "List pools",
    tag: "Admin",
    security: "admin",
    responses: { 200: { description: "Pools", schema: z.object({ data: z.array(Pool) }) }, ...errors },
  },
  {
    method: "get",
    path: "/admin/v1/pools/:name",
    summary: "Get a pool",
    tag: "Admin",
    security: "admin",
    responses: { 200: { description: "The pool", schema: Pool }, ...errors, ...notFound },
  },
  {
    method: "patch",
    path: "/admin/v1/pools/:name",
    summary: "Update a pool",
    description:
      "Changes `region`, `tenants`, `node_policy` (null clears it) or `shards` (docs/capabilities.md §7; only while the pool has no queued or running job, else 409 `pool_busy`). Submits see the change within 30 s (pool records are cached per data centre).",
    tag: "Admin",
    security: "admin",
    body: PoolPatch,
    responses: {
      200: { description: "The updated pool", schema: Pool },
      ...errors,
      ...notFound,
      409: { description: "pool_busy: shards changed while jobs are queued or running", schema: ErrorEnvelope },
      422: { description: "Unknown tenant", schema: ErrorEnvelope },
    },
  },
  {
    method: "get",
    path: "/admin/v1/pools/:name/metrics",
    summary: "The pool's load in Prometheus text format (for KEDA or an HPA)",
    description:
      "Gauges labelled `pool`: queued and running jobs, live runners, slots, free slots, age of the oldest queued job, estimated wait of a job submitted now (NaN without a live runner). docs/capabilities.md.",
    tag: "Admin",
    security: "admin",
    responses: {
      200: { description: "Metrics", schema: z.string(), contentType: "text/plain" },
      ...errors,
      ...notFound,
    },
  },
];
