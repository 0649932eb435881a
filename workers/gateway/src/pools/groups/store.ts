/**
 * Pool groups and tenants' region affinities in D1 (STORAGE.md), and their reads on the submit path,
 * cached with the Cache API for 30 s (like pool records: they change rarely).
 */

import type { PoolGroup } from "@comfy-edge/shared/contract";
import { z } from "zod";

const TTL_S = 30;

export interface PoolGroupRow {
  name: string;
  members: string;
  max_wait_s: number | null;
  created_at: number;
  updated_at: number;
}

const Members = z.array(z.object({ pool: z.string(), region: z.string().nullable(), weight: z.int() }));

export function toPoolGroup(row: PoolGroupRow): PoolGroup {
  return {
    name: row.name,
    members: Members.parse(JSON.parse(row.members)),
    max_wait_s: row.max_wait_s,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

function cacheKey(kind: "group" | "affinity", name: string): Request {
  return new Request(`https://${kind}.cache.comfy-edge.internal/${encodeURIComponent(name)}`);
}

async function cached<T>(key: Request, schema: z.ZodType<T>, load: () => Promise<T>): Promise<T> {
  const cache = caches.default;
  const hit = await cache.match(key);
  if (hit) {
    const parsed = schema.safeParse(await hit.json().catch(() => undefined));
    if (parsed.success) return parsed.data;
  }
  const value = await load();
  await cache.put(key, new Response(JSON.stringify(value), { headers: { "cache-control": `max-age=${TTL_S}` } }));
  return value;
}

export async function getGroupRow(db: D1Database, name: string): Promise<PoolGroupRow | null> {
  return db.prepare("SELECT * FROM pool_groups WHERE name = ?").bind(name).first<PoolGroupRow>();
}

const CachedGroup = z
  .object({
    name: z.string(),
    members: Members,
    max_wait_s: z.number().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .nullable();

/** The group (cached 30 s per data centre), or null. */
export async function getGroup(env: Env, name: string): Promise<PoolGroup | null> {
  return cached(cacheKey("group", name), CachedGroup, async () => {
    const row = await getGroupRow(env.DB, name);
    return row ? toPoolGroup(row) : null;
  });
}

/** Drops this data centre's cached group after the admin API changed it. */
export async function forgetGroup(name: string): Promise<void> {
  await caches.default.delete(cacheKey("group", name));
}

/** The tenant's region affinity (cached 30 s per data centre), or null. */
export async function getTenantRegion(env: Env, tenantId: string): Promise<string | null> {
  return cached(cacheKey("affinity", tenantId), z.string().nullable(), async () => {
    const row = await env.DB.prepare("SELECT region FROM tenant_regions WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ region: string }>();
    return row?.region ?? null;
  });
}

export async function putTenantRegion(db: D1Database, tenantId: string, region: string | null): Promise<void> {
  if (region === null) await db.prepare("DELETE FROM tenant_regions WHERE tenant_id = ?").bind(tenantId).run();
  else
    await db
      .prepare(
        "INSERT INTO tenant_regions (tenant_id, region) VALUES (?, ?) ON CONFLICT (tenant_id) DO UPDATE SET region = excluded.region",
      )
      .bind(tenantId, region)
      .run();
  await caches.default.delete(cacheKey("affinity", tenantId));
}
