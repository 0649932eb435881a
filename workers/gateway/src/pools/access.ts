/**
 * Pool lookups on the submit path, cached with the Cache API for 30 s (pools change rarely); each isolate
 * also remembers the records it read until 30 s after they were read from D1 (shared/pool-shards/memo.ts),
 * so a submit pays no Cache API read. An admin change drops the cached record and this isolate's memo of
 * it; other isolates see the change within 30 s, as other data centres always did.
 */
import type { NodePolicy } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { agedMemo, READ_AT_HEADER, readAtOf } from "@comfy-edge/shared/pool-shards/memo";
import { nodePolicyFromColumn } from "../jobs/node-policy.ts";
import { jsonArray } from "../lib/json.ts";
import type { PoolDO } from "./pool-do.ts";

const TTL_S = 30;
/** Pools an isolate remembers at most. */
const MEMO_ENTRIES = 1000;

export interface PoolRecord {
  name: string;
  tenants: string[] | null;
  /** The pool's node-class policy (docs/node-policy.md); absent in records cached before migration 0006. */
  node_policy?: NodePolicy | null;
}

function cacheKey(name: string): Request {
  return new Request(`https://pool.cache.comfy-edge.internal/${encodeURIComponent(name)}`);
}

const memo = agedMemo<PoolRecord | null>(TTL_S * 1000, MEMO_ENTRIES);

/** Drops the cached record (and this isolate's memo of it) after the admin API changed the pool. */
export async function forgetPool(env: Env, name: string): Promise<void> {
  memo.forget(env, name);
  await caches.default.delete(cacheKey(name));
}

export async function getPool(env: Env, name: string): Promise<PoolRecord | null> {
  const known = memo.get(env, name);
  if (known) return known.value;
  const cache = caches.default;
  const key = cacheKey(name);
  const hit = await cache.match(key);
  if (hit) {
    const record = (await hit.json()) as PoolRecord | null;
    memo.set(env, name, record, readAtOf(hit));
    return record;
  }
  const row = await env.DB.prepare("SELECT name, tenants, node_policy FROM pools WHERE name = ?")
    .bind(name)
    .first<{ name: string; tenants: string | null; node_policy: string | null }>();
  const record = row
    ? { name: row.name, tenants: jsonArray(row.tenants), node_policy: nodePolicyFromColumn(row.node_policy) }
    : null;
  const readAt = Date.now();
  const headers = { "cache-control": `max-age=${TTL_S}`, [READ_AT_HEADER]: String(readAt) };
  await cache.put(key, new Response(JSON.stringify(record), { headers }));
  memo.set(env, name, record, readAt);
  return record;
}

/** 422 unknown_pool unless the pool exists and the tenant may use it. */
export async function requirePoolAccess(
  env: Env,
  name: string,
  tenantId: string,
  param: string | null,
): Promise<PoolRecord> {
  const pool = await getPool(env, name);
  if (!pool || (pool.tenants !== null && !pool.tenants.includes(tenantId))) {
    throw new ApiError(
      422,
      "unknown_pool",
      `No pool named '${name}' that this tenant may use. GET /v1/pools lists yours.`,
      { param },
    );
  }
  return pool;
}

/** The pool DO's RPC surface (typed stub, see JobApi). */
export type PoolApi = DurableObjectStub<PoolDO>;

export function poolStub(env: { POOLS: DurableObjectNamespace<PoolDO> }, name: string): PoolApi {
  return env.POOLS.get(env.POOLS.idFromName(name));
}
