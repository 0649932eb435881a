import { env } from "cloudflare:test";
import { sha256Hex } from "@comfy-edge/shared/crypto";
import { describe, expect, it } from "vitest";
import { admin, call, createPool, json } from "../../test/helpers.ts";

describe("runner auth cache", () => {
  it("a cached token record that does not parse is looked up again, never trusted", async () => {
    await createPool("runner-auth-cache");
    const { token } = await json<{ token: string }>(
      await admin("/admin/v1/runner-tokens", { body: { pool: "runner-auth-cache" } }),
    );
    // An entry in the shape of another version (no pool): taken as is, it would lease from pool "undefined".
    const cacheKey = new Request(`https://runner-token.cache.comfy-edge.internal/${await sha256Hex(token)}`);
    await caches.default.put(
      cacheKey,
      new Response(JSON.stringify({ revoked: false }), { headers: { "cache-control": "max-age=30" } }),
    );
    const res = await call("/runner/v1/lease", { token, body: { runner_id: "r-cache", version: "test", wait_s: 0 } });
    expect(res.status).toBe(204);
    // The lease reached the token's own pool.
    const pool = env.POOLS.get(env.POOLS.idFromName("runner-auth-cache"));
    expect(await pool.stats()).toMatchObject({ runners: 1 });
  });
});
