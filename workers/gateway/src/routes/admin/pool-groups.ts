/**
 * Admin API for pool groups (docs/capabilities.md "Regions and failover") and tenants' region affinity.
 * A group lists member pools with a region and a weight, and a failover threshold on the wait estimate.
 */

import {
  ErrorEnvelope,
  PoolGroup,
  PoolGroupCreate,
  type PoolGroupMember,
  PoolGroupPatch,
} from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { Hono } from "hono";
import { z } from "zod";
import { readJson } from "../../lib/body.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import {
  forgetGroup,
  getGroupRow,
  getTenantRegion,
  type PoolGroupRow,
  putTenantRegion,
  toPoolGroup,
} from "../../pools/groups/store.ts";
import type { AppEnv } from "../../types.ts";
import { getTenantRow } from "./lookups.ts";

export const poolGroupRoutes = new Hono<AppEnv>();
export const tenantRegionRoutes = new Hono<AppEnv>();

export const TenantRegion = z
  .object({
    region: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .nullable()
      .describe("Pool groups prefer members in this region, then on its continent; null = the request's location"),
  })
  .strict();

/** Members with their regions filled from the pools (422 unknown_pool naming `members[i].pool`). */
async function resolveMembers(db: D1Database, members: PoolGroupMember[]) {
  const names = members.map((m) => m.pool);
  const { results } = await db
    .prepare(`SELECT name, region FROM pools WHERE name IN (${names.map(() => "?").join(",")})`)
    .bind(...names)
    .all<{ name: string; region: string | null }>();
  const regions = new Map(results.map((r) => [r.name, r.region]));
  return members.map((m, i) => {
    if (!regions.has(m.pool)) {
      throw new ApiError(
        422,
        "unknown_pool",
        `members[${i}].pool: no pool named '${m.pool}'. Create it with POST /admin/v1/pools first.`,
        { param: `members[${i}].pool` },
      );
    }
    return { pool: m.pool, region: m.region ?? regions.get(m.pool) ?? null, weight: m.weight ?? 1 };
  });
}

async function existingGroup(db: D1Database, name: string): Promise<PoolGroupRow> {
  const row = await getGroupRow(db, name);
  if (!row) throw new ApiError(404, "pool_group_not_found", `No pool group named '${name.slice(0, 80)}'.`);
  return row;
}

poolGroupRoutes.post("/", async (c) => {
  const body = await readJson(c, PoolGroupCreate, { maxBytes: 64 * 1024 });
  const now = Date.now();
  const row: PoolGroupRow = {
    name: body.name,
    members: JSON.stringify(await resolveMembers(c.env.DB, body.members)),
    max_wait_s: body.max_wait_s ?? null,
    created_at: now,
    updated_at: now,
  };
  const inserted = await c.env.DB.prepare(
    `INSERT INTO pool_groups (name, members, max_wait_s, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (name) DO NOTHING`,
  )
    .bind(row.name, row.members, row.max_wait_s, row.created_at, row.updated_at)
    .run();
  if (inserted.meta.changes === 0)
    throw new ApiError(409, "pool_group_exists", `A pool group named '${body.name}' already exists.`, {
      param: "name",
    });
  await forgetGroup(row.name);
  return c.json(toPoolGroup(row), 201);
});

poolGroupRoutes.get("/", async (c) => {
  const { results } = await c.env.DB.prepare("SELECT * FROM pool_groups ORDER BY name").all<PoolGroupRow>();
  return c.json({ data: results.map(toPoolGroup) });
});

poolGroupRoutes.get("/:name", async (c) => c.json(toPoolGroup(await existingGroup(c.env.DB, c.req.param("name")))));

poolGroupRoutes.patch("/:name", async (c) => {
  const body = await readJson(c, PoolGroupPatch, { maxBytes: 64 * 1024 });
  const current = await existingGroup(c.env.DB, c.req.param("name"));
  const next: PoolGroupRow = {
    ...current,
    members: body.members ? JSON.stringify(await resolveMembers(c.env.DB, body.members)) : current.members,
    max_wait_s: body.max_wait_s === undefined ? current.max_wait_s : body.max_wait_s,
    updated_at: Date.now(),
  };
  await c.env.DB.prepare("UPDATE pool_groups SET members = ?, max_wait_s = ?, updated_at = ? WHERE name = ?")
    .bind(next.members, next.max_wait_s, next.updated_at, next.name)
    .run();
  await forgetGroup(next.name);
  return c.json(toPoolGroup(next));
});

poolGroupRoutes.delete("/:name", async (c) => {
  const current = await existingGroup(c.env.DB, c.req.param("name"));
  await c.env.DB.prepare("DELETE FROM pool_groups WHERE name = ?").bind(current.name).run();
  await forgetGroup(current.name);
  return c.json({ name: current.name, deleted: true });
});

tenantRegionRoutes.put("/:id/region", async (c) => {
  const tenant = await getTenantRow(c.env.DB, c.req.param("id"));
  const body = await readJson(c, TenantRegion, { maxBytes: 4096 });
  await putTenantRegion(c.env.DB, tenant.id, body.region);
  return c.json({ region: body.region });
});

tenantRegionRoutes.get("/:id/region", async (c) => {
  const tenant = await getTenantRow(c.env.DB, c.req.param("id"));
  return c.json({ region: await getTenantRegion(c.env, tenant.id) });
});

const errors = {
  400: { description: "Invalid request", schema: ErrorEnvelope },
  401: { description: "Missing or invalid admin token", schema: ErrorEnvelope },
};
const notFound = { 404: { description: "No such pool group", schema: ErrorEnvelope } };
const unknownPool = { 422: { description: "A member names no pool", schema: ErrorEnvelope } };
const tag = "Admin";

export const poolGroupDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/admin/v1/pool-groups",
    summary: "Create a pool group",
    description:
      'Members are pools with a region (default: the pool\'s) and a weight (ties, higher first). Jobs target the group with `"pool": "group:<name>"`; dispatch prefers the member nearest the request that has a live runner able to run the job and a wait estimate within `max_wait_s`. docs/capabilities.md.',
    tag,
    security: "admin",
    body: PoolGroupCreate,
    responses: {
      201: { description: "Created", schema: PoolGroup },
      ...errors,
      409: { description: "A pool group with that name exists", schema: ErrorEnvelope },
      ...unknownPool,
    },
  },
  {
    method: "get",
    path: "/admin/v1/pool-groups",
    summary: "List pool groups",
    tag,
    security: "admin",
    responses: { 200: { description: "Pool groups", schema: z.object({ data: z.array(PoolGroup) }) }, ...errors },
  },
  {
    method: "get",
    path: "/admin/v1/pool-groups/:name",
    summary: "Get a pool group",
    tag,
    security: "admin",
    responses: { 200: { description: "The pool group", schema: PoolGroup }, ...errors, ...notFound },
  },
  {
    method: "patch",
    path: "/admin/v1/pool-groups/:name",
    summary: "Update a pool group",
    description: "Replaces `members` and/or `max_wait_s` (null clears it). Submits see the change within 30 s.",
    tag,
    security: "admin",
    body: PoolGroupPatch,
    responses: {
      200: { description: "The updated pool group", schema: PoolGroup },
      ...errors,
      ...notFound,
      ...unknownPool,
    },
  },
  {
    method: "delete",
    path: "/admin/v1/pool-groups/:name",
    summary: "Delete a pool group",
    description: "Jobs already queued in a member stay there.",
    tag,
    security: "admin",
    responses: {
      200: { description: "Deleted", schema: z.object({ name: z.string(), deleted: z.literal(true) }) },
      ...errors,
      ...notFound,
    },
  },
  {
    method: "put",
    path: "/admin/v1/tenants/:id/region",
    summary: "Set a tenant's region affinity for pool groups",
    tag,
    security: "admin",
    body: TenantRegion,
    responses: {
      200: { description: "The affinity", schema: TenantRegion },
      ...errors,
      404: { description: "No such tenant", schema: ErrorEnvelope },
    },
  },
  {
    method: "get",
    path: "/admin/v1/tenants/:id/region",
    summary: "A tenant's region affinity",
    tag,
    security: "admin",
    responses: {
      200: { description: "The affinity (null: none)", schema: TenantRegion },
      ...errors,
      404: { description: "No such tenant", schema: ErrorEnvelope },
    },
  },
];
