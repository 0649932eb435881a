/**
 * Pool lookups' isolate memo (access.ts, shared/pool-shards/count.ts): an admin change is seen at once by
 * the isolate that made it (its memo and the cached entry are dropped); a change that bypasses the admin
 * API (straight to D1) is not seen while the memo holds the value read from D1 (at most 30 s).
 */
import { env } from "cloudflare:test";
import { forgetShardCount, shardCount } from "@comfy-edge/shared/pool-shards/count";
import { describe, expect, it } from "vitest";
import { admin, call, createKey, createPool, createTenant, expectError } from "../../test/helpers.ts";

describe("pool lookups memo", () => {
  it("a tenant list changed by the admin API applies at once; one changed in D1 alone waits for the memo", async () => {
    const owner = await createTenant();
    const other = await createTenant();
    const key = (await createKey(other.id)).key;
    const name = `memo-${crypto.randomUUID().slice(0, 8)}`;
    expect((await createPool(name, { tenants: [owner.id] })).status).toBe(201);
    await expectError(await call(`/v1/pools/${name}`, { token: key }), 404, "pool_not_found");
    const patched = await admin(`/admin/v1/pools/${name}`, {
      method: "PATCH",
      body: { tenants: [owner.id, other.id] },
    });
    expect(patched.status).toBe(200);
    expect((await call(`/v1/pools/${name}`, { token: key })).status).toBe(200);
    // Straight to D1: the record this isolate read 30 s ago at most still answers.
    await env.DB.prepare("UPDATE pools SET tenants = ? WHERE name = ?")
      .bind(JSON.stringify([owner.id]), name)
      .run();
    expect((await call(`/v1/pools/${name}`, { token: key })).status).toBe(200);
  });

  it("a shard count is remembered until forgotten (as the admin API does after a change)", async () => {
    const name = `memo-${crypto.randomUUID().slice(0, 8)}`;
    expect((await createPool(name, { shards: 2 })).status).toBe(201);
    expect(await shardCount(env, caches.default, name)).toBe(2);
    await env.DB.prepare("UPDATE pools SET shards = 3 WHERE name = ?").bind(name).run();
    expect(await shardCount(env, caches.default, name)).toBe(2);
    await forgetShardCount(env, caches.default, name);
    expect(await shardCount(env, caches.default, name)).toBe(3);
  });
});
