/**
 * API-key authentication, rate limiting and scope check in one Durable Object call.
 *
 *   app.use("/v1/chat/*", apiKeyAuth({ scope: "llm" }))
 *
 * 401 missing_api_key | invalid_api_key | revoked_api_key, 403 insufficient_scope, 429 rate_limited.
 * `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` go on every authenticated response.
 */

import { Scope } from "@comfy-edge/shared/contract";
import { sha256Hex } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import { signingRingMemo } from "@comfy-edge/shared/signing-keys";
import { verifyTokenTag } from "@comfy-edge/shared/tokens";
import type { MiddlewareHandler } from "hono";
import type { KeyDO } from "../keys/key-do.ts";
import type { AppEnv } from "../types.ts";
import { bearerToken, limitUnauthenticated } from "./client-limit.ts";
import { assertTenantOrigin } from "./cors.ts";

export interface ApiKeyAuthOptions {
  /** Scope the key must hold; omit for routes any valid key may call. */
  scope?: Scope;
}

export function keyStub(env: Env, keyHash: string): DurableObjectStub<KeyDO> {
  return env.KEYS.get(env.KEYS.idFromName(keyHash));
}

/** Keys an isolate remembers at most (the least recently stored go first). */
const VERIFIED_KEYS_MAX = 1000;

/**
 * The isolate's memo of keys whose tag verified, with their hash, per signing secret: a repeat skips the tag
 * check and the hash. Whether the key is still valid is the KeyDO's answer on every request, as before.
 */
function verifiedKeys() {
  const memo = new Map<string, { secret: string; hash: string }>();
  return {
    get(token: string, secret: string): string | null {
      const m = memo.get(token);
      return m && m.secret === secret ? m.hash : null;
    },
    set(token: string, secret: string, hash: string): void {
      memo.delete(token);
      memo.set(token, { secret, hash });
      while (memo.size > VERIFIED_KEYS_MAX) memo.delete(memo.keys().next().value as string);
    },
  };
}

export function apiKeyAuth(options: ApiKeyAuthOptions): MiddlewareHandler<AppEnv> {
  const scope = options.scope === undefined ? undefined : Scope.parse(options.scope);
  const signingRing = signingRingMemo();
  const verified = verifiedKeys();
  return async (c, next) => {
    const token = bearerToken(c);
    if (token === null) {
      await limitUnauthenticated(c);
      throw new ApiError(401, "missing_api_key", "No API key given. Send 'Authorization: Bearer <your API key>'.");
    }
    const secret = c.env.SIGNING_SECRET;
    let keyHash = token === "malformed" ? null : verified.get(token, secret);
    if (keyHash === null) {
      if (token === "malformed" || !(await verifyTokenTag("sk", token, await signingRing(secret)))) {
        await limitUnauthenticated(c);
        throw new ApiError(
          401,
          "invalid_api_key",
          "The API key is not valid. Check that you copied the whole key (it starts with 'ce_sk_').",
        );
      }
      keyHash = await sha256Hex(token);
      verified.set(token, secret, keyHash);
    }
    const decision = await keyStub(c.env, keyHash).authorize(keyHash);
    if (decision.status === "invalid") {
      await limitUnauthenticated(c);
      throw new ApiError(
        401,
        "invalid_api_key",
        "The API key is not valid. Check that you copied the whole key (it starts with 'ce_sk_').",
      );
    }
    if (decision.status === "revoked") {
      throw new ApiError(401, "revoked_api_key", "This API key has been revoked. Create a new key.");
    }
    const resetS = Math.max(0, Math.ceil((decision.resetAt - Date.now()) / 1000));
    c.header("ratelimit-limit", String(decision.limit));
    c.header("ratelimit-remaining", String(decision.remaining));
    c.header("ratelimit-reset", String(resetS));
    // The refusals below know the tenant: request stats file them under it, not under "no key".
    c.set("refusedTenantId", decision.tenantId);
    if (decision.status === "limited") {
      throw new ApiError(
        429,
        "rate_limited",
        `Rate limit of ${decision.limit} requests per minute reached for this API key. Retry after ${resetS} s.`,
        {
          headers: { "retry-after": String(Math.max(1, resetS)) },
        },
      );
    }
    if (scope && !decision.scopes.includes(scope)) {
      throw new ApiError(
        403,
        "insufficient_scope",
        `This API key lacks the '${scope}' scope. Create a key with scopes including "${scope}".`,
      );
    }
    c.set("auth", {
      keyId: decision.keyId,
      tenantId: decision.tenantId,
      scopes: decision.scopes,
      tenant: decision.tenant,
    });
    await assertTenantOrigin(c, decision.tenant);
    await next();
    // c.header() only reaches responses built with c.body/c.json/...; a handler's own Response gets them here.
    if (!c.res.headers.has("ratelimit-limit")) {
      c.res.headers.set("ratelimit-limit", String(decision.limit));
      c.res.headers.set("ratelimit-remaining", String(decision.remaining));
      c.res.headers.set("ratelimit-reset", String(resetS));
    }
  };
}
