/**
 * Runner authentication: `Authorization: Bearer ce_rt_...`, a token scoped to one pool. The token record
 * is cached with the Cache API for up to 30 s (revocation takes effect within that time).
 */

import { sha256Hex } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import { signingRingMemo } from "@comfy-edge/shared/signing-keys";
import { verifyTokenTag } from "@comfy-edge/shared/tokens";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import type { AppEnv } from "../types.ts";
import { bearerToken, limitUnauthenticated } from "./client-limit.ts";

const CACHE_TTL_S = 30;

const RunnerTokenRecord = z.object({ id: z.string(), pool: z.string(), revoked: z.boolean() }).nullable();
type RunnerTokenRecord = NonNullable<z.infer<typeof RunnerTokenRecord>>;

async function lookup(env: Env, hash: string): Promise<RunnerTokenRecord | null> {
  const cacheKey = new Request(`https://runner-token.cache.comfy-edge.internal/${hash}`);
  const cache = caches.default;
  const hit = await cache.match(cacheKey);
  // A cached entry that does not parse (written by another version) is looked up again.
  const cached = hit ? RunnerTokenRecord.safeParse(await hit.json().catch(() => undefined)) : undefined;
  if (cached?.success) return cached.data;
  const row = await env.DB.prepare("SELECT id, pool, revoked_at FROM runner_tokens WHERE token_hash = ?")
    .bind(hash)
    .first<{ id: string; pool: string; revoked_at: number | null }>();
  const record = row ? { id: row.id, pool: row.pool, revoked: row.revoked_at !== null } : null;
  await cache.put(
    cacheKey,
    new Response(JSON.stringify(record), { headers: { "cache-control": `max-age=${CACHE_TTL_S}` } }),
  );
  return record;
}

export function runnerAuth(): MiddlewareHandler<AppEnv> {
  const signingRing = signingRingMemo();
  return async (c, next) => {
    const token = bearerToken(c);
    if (token === null) {
      await limitUnauthenticated(c);
      throw new ApiError(
        401,
        "missing_runner_token",
        "No runner token given. Send 'Authorization: Bearer <RUNNER_TOKEN>'.",
      );
    }
    if (token === "malformed" || !(await verifyTokenTag("rt", token, await signingRing(c.env.SIGNING_SECRET)))) {
      await limitUnauthenticated(c);
      throw new ApiError(401, "invalid_runner_token", "The runner token is not valid (it starts with 'ce_rt_').");
    }
    const record = await lookup(c.env, await sha256Hex(token));
    if (!record) {
      await limitUnauthenticated(c);
      throw new ApiError(401, "invalid_runner_token", "The runner token is not valid (it starts with 'ce_rt_').");
    }
    if (record.revoked) throw new ApiError(401, "revoked_runner_token", "This runner token has been revoked.");
    c.set("runner", { tokenId: record.id, pool: record.pool });
    await next();
  };
}
