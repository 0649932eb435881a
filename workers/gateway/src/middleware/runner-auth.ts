/**
 * Runner authentication: `Authorization: Bearer ce_rt_...`, a token scoped to one pool. The token record
 * is cached with the Cache API for up to 30 s (revocation takes effect within that time), and each isolate
 * remembers the records it saw until 30 s after they were read from D1 (never longer than the cached
 * entry), so a runner's lease, heartbeat and report calls pay no Cache API read, hash or tag check.
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
/** Records an isolate remembers at most (the least recently stored go first). */
const MEMO_ENTRIES = 1000;

/** `read_at`: when the record was read from D1 (absent in entries of earlier versions: not remembered). */
const RunnerTokenRecord = z
  .object({ id: z.string(), pool: z.string(), revoked: z.boolean(), read_at: z.number().optional() })
  .nullable();
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
  const record = row ? { id: row.id, pool: row.pool, revoked: row.revoked_at !== null, read_at: Date.now() } : null;
  await cache.put(
    cacheKey,
    new Response(JSON.stringify(record), { headers: { "cache-control": `max-age=${CACHE_TTL_S}` } }),
  );
  return record;
}

/**
 * The isolate's memo of verified tokens: token -> record, until 30 s after the record was read from D1.
 * Keyed by the token itself and the signing secret it was checked under, so a hit skips the tag check and
 * the hash too; only tokens whose tag verified get in, so a stream of bogus tokens cannot fill it.
 */
function tokenMemo() {
  const memo = new Map<string, { secret: string; record: RunnerTokenRecord; until: number }>();
  return {
    get(token: string, secret: string): RunnerTokenRecord | null {
      const m = memo.get(token);
      if (!m) return null;
      if (m.secret === secret && m.until > Date.now()) return m.record;
      memo.delete(token);
      return null;
    },
    set(token: string, secret: string, record: RunnerTokenRecord): void {
      if (record.read_at === undefined) return;
      memo.delete(token);
      memo.set(token, { secret, record, until: record.read_at + CACHE_TTL_S * 1000 });
      while (memo.size > MEMO_ENTRIES) memo.delete(memo.keys().next().value as string);
    },
  };
}

export function runnerAuth(): MiddlewareHandler<AppEnv> {
  const signingRing = signingRingMemo();
  const memo = tokenMemo();
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
    const secret = c.env.SIGNING_SECRET;
    let record = token === "malformed" ? null : memo.get(token, secret);
    if (!record) {
      if (token === "malformed" || !(await verifyTokenTag("rt", token, await signingRing(secret)))) {
        await limitUnauthenticated(c);
        throw new ApiError(401, "invalid_runner_token", "The runner token is not valid (it starts with 'ce_rt_').");
      }
      record = await lookup(c.env, await sha256Hex(token));
      if (!record) {
        await limitUnauthenticated(c);
        throw new ApiError(401, "invalid_runner_token", "The runner token is not valid (it starts with 'ce_rt_').");
      }
      memo.set(token, secret, record);
    }
    if (record.revoked) throw new ApiError(401, "revoked_runner_token", "This runner token has been revoked.");
    c.set("runner", { tokenId: record.id, pool: record.pool });
    await next();
  };
}
