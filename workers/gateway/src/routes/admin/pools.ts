import { Hono } from "hono";
import { z } from "zod";
import { ErrorEnvelope, Pool, PoolCreate } from "../../../../shared/contract/index.ts";
import { ApiError } from "../../../../shared/errors.ts";
import { readJson } from "../../lib/body.ts";
import { toJsonColumn } from "../../lib/json.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { forgetPool } from "../../pools/access.ts";
import type { AppEnv } from "../../types.ts";
import { getPoolRow } from "./lookups.ts";
import { type PoolRow, toPool } from "./rows.ts";

export const poolAdminRoutes = new Hono<AppEnv>();

poolAdminRoutes.post("/", async (c) => {
  const body = await readJson(c, PoolCreate, { maxBytes: 1024 * 1024 });
  const tenants = body.tenants ? [...new Set(body.tenants)] : null;
  if (tenants && tenants.length > 0) {
    const placeholders = tenants.map(() => "?").join(",");
    const { results } = await c.env.DB.prepare(`SELECT id FROM tenants WHERE id IN (${placeholders})`)
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
  const row: PoolRow = {
    name: body.name,
    region: body.region ?? null,
    tenants: toJsonColumn(tenants),
    created_at: Date.now(),
  };
  const inserted = await c.env.DB.prepare(
    "INSERT INTO pools (name, region, tenants, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
  )
    .bind(row.name, row.region, row.tenants, row.created_at)
    .run();
  if (inserted.meta.changes === 0) {
    const existing = await getPoolRow(c.env.DB, body.name);
    throw new ApiError(409, "pool_exists", `A pool named '${body.name}' already exists.`, {
      param: "name",
      details: existing ? { pool: toPool(existing) } : undefined,
    });
  }
  await forgetPool(body.name);
  return c.json(toPool(row), 201);
});

poolAdminRoutes.get("/", async (c) => {
  const { results } = await c.env.DB.prepare("SELECT * FROM pools ORDER BY name").all<PoolRow>();
  return c.json({ data: results.map(toPool) });
});

const errors = {
  400: { description: "Invalid request", schema: ErrorEnvelope },
  401: { description: "Missing or invalid admin token", schema: ErrorEnvelope },
};

export const poolAdminDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/admin/v1/pools",
    summary: "Create a GPU pool",
    description: "`tenants` lists the tenants that may use the pool; absent or null means every tenant.",
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
];
