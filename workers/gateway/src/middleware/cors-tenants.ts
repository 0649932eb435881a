/**
 * The union of every tenant's own browser origins (`cors_allowed_origins`, docs/cors.md). A preflight carries
 * no key, so it cannot know the tenant: it is answered for any origin the deployment or some tenant allows,
 * and the real request is then checked against its tenant (middleware/cors.ts). Cached with the Cache API
 * for 60 s; the admin API drops the entry when it changes a tenant's list.
 */
import { jsonArray } from "../lib/json.ts";

const TTL_S = 60;

function cacheKey(): Request {
  return new Request("https://cors.cache.comfy-edge.internal/tenant-origins");
}

export async function forgetTenantOrigins(): Promise<void> {
  await caches.default.delete(cacheKey());
}

/** Every origin pattern some tenant allows (deduplicated). */
export async function tenantOrigins(db: D1Database): Promise<string[]> {
  const cache = caches.default;
  const key = cacheKey();
  const hit = await cache.match(key);
  if (hit) return (await hit.json()) as string[];
  const { results } = await db
    .prepare("SELECT cors_allowed_origins FROM tenants WHERE cors_allowed_origins IS NOT NULL")
    .all<{ cors_allowed_origins: string }>();
  const all = [...new Set(results.flatMap((r) => jsonArray(r.cors_allowed_origins) ?? []))];
  await cache.put(key, new Response(JSON.stringify(all), { headers: { "cache-control": `max-age=${TTL_S}` } }));
  return all;
}
