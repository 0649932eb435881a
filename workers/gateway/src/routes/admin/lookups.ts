import { ApiError } from "@comfy-edge/shared/errors";
import { groupTarget } from "@comfy-edge/shared/pool-groups/choose";
import { keyStub } from "../../middleware/api-key-auth.ts";
import type { PoolRow, TenantRow } from "./rows.ts";

export async function getTenantRow(db: D1Database, id: string): Promise<TenantRow> {
  const row = await db.prepare("SELECT * FROM tenants WHERE id = ?").bind(id).first<TenantRow>();
  if (!row) throw new ApiError(404, "tenant_not_found", `No tenant with id '${id}'.`);
  return row;
}

export async function getPoolRow(db: D1Database, name: string): Promise<PoolRow | null> {
  return db.prepare("SELECT * FROM pools WHERE name = ?").bind(name).first<PoolRow>();
}

/** 422 unknown_pool unless the pool exists. */
export async function requirePool(db: D1Database, name: string, param: string): Promise<PoolRow> {
  const pool = await getPoolRow(db, name);
  if (!pool)
    throw new ApiError(422, "unknown_pool", `No pool named '${name}'. Create it with POST /admin/v1/pools first.`, {
      param,
    });
  return pool;
}

/** A tenant's default_pool: a pool, or `group:<name>` a pool group (422 unknown_pool naming default_pool). */
export async function requireDefaultPool(db: D1Database, target: string): Promise<void> {
  const group = groupTarget(target);
  if (group === null) {
    await requirePool(db, target, "default_pool");
    return;
  }
  const row = await db.prepare("SELECT name FROM pool_groups WHERE name = ?").bind(group).first<{ name: string }>();
  if (!row) {
    throw new ApiError(
      422,
      "unknown_pool",
      `No pool group named '${group.slice(0, 80)}' for default_pool '${target.slice(0, 90)}'. Create it with POST /admin/v1/pool-groups first.`,
      { param: "default_pool" },
    );
  }
}

/** 409 tenant_name_taken naming the tenant that has the name (case-insensitively). */
export async function tenantNameTaken(db: D1Database, name: string): Promise<ApiError> {
  const holder = await db
    .prepare("SELECT id FROM tenants WHERE name = ? COLLATE NOCASE")
    .bind(name)
    .first<{ id: string }>();
  return new ApiError(
    409,
    "tenant_name_taken",
    `A tenant named '${name}' already exists${holder ? ` (${holder.id})` : ""}; tenant names are unique. Pick another name, or change that tenant with PATCH /admin/v1/tenants/:id.`,
    { param: "name" },
  );
}

/** Pushes a tenant's changed settings to the Durable Object of each of its keys. */
export async function refreshTenantKeys(env: Env, tenantId: string): Promise<void> {
  const { results } = await env.DB.prepare("SELECT key_hash FROM api_keys WHERE tenant_id = ? AND revoked_at IS NULL")
    .bind(tenantId)
    .all<{ key_hash: string }>();
  await Promise.all(results.map((r) => keyStub(env, r.key_hash).refresh(r.key_hash)));
}
