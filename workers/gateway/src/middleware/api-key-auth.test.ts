import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { sha256Hex } from "@comfy-edge/shared/crypto";
import { issueToken } from "@comfy-edge/shared/tokens";
import { describe, expect, it } from "vitest";
import { admin, call, createKey, createPool, createTenant, expectError, json } from "../../test/helpers.ts";
import type { KeyDO } from "../keys/key-do.ts";
import { WINDOW_MS } from "../keys/rate-window.ts";
import { keyStub } from "./api-key-auth.ts";

describe("API key auth", () => {
  it("accepts a valid key and sets RateLimit headers", async () => {
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id, { requests_per_minute: 50 });
    const res = await call("/v1/pools", { token: key });
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-limit")).toBe("50");
    expect(res.headers.get("ratelimit-remaining")).toBe("49");
    expect(Number(res.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
  });

  it("answers each auth failure with its own code", async () => {
    await expectError(await call("/v1/pools"), 401, "missing_api_key");
    await expectError(await call("/v1/pools", { headers: { authorization: "Basic abc" } }), 401, "invalid_api_key");
    await expectError(
      await call("/v1/pools", { token: "ce_sk_notavalidkeyatall000000000000" }),
      401,
      "invalid_api_key",
    );
    // Right shape, tag signed with another secret: rejected without any lookup.
    const forged = await issueToken("sk", "some-other-secret");
    await expectError(await call("/v1/pools", { token: forged.token }), 401, "invalid_api_key");
    // Valid tag but never issued (deleted from D1): the key's DO finds no record.
    const orphan = await issueToken("sk", env.SIGNING_SECRET);
    await expectError(await call("/v1/pools", { token: orphan.token }), 401, "invalid_api_key");
    // A runner token is not an API key.
    await createPool("auth-pool");
    const rt = await json<{ token: string }>(await admin("/admin/v1/runner-tokens", { body: { pool: "auth-pool" } }));
    await expectError(await call("/v1/pools", { token: rt.token }), 401, "invalid_api_key");
  });

  it("never echoes the key in errors", async () => {
    const forged = await issueToken("sk", "some-other-secret");
    const res = await call("/v1/pools", { token: forged.token });
    expect(await res.text()).not.toContain(forged.token);
  });

  it("revokes immediately", async () => {
    const tenant = await createTenant();
    const { id, key } = await createKey(tenant.id);
    expect((await call("/v1/pools", { token: key })).status).toBe(200);
    expect((await admin(`/admin/v1/keys/${id}`, { method: "DELETE" })).status).toBe(200);
    await expectError(await call("/v1/pools", { token: key }), 401, "revoked_api_key");
  });

  it("enforces scopes with 403 insufficient_scope", async () => {
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id, { scopes: ["llm"] });
    const body = await expectError(await call("/v1/pools", { token: key }), 403, "insufficient_scope");
    expect(body.error.message).toContain("jobs");
  });

  it("applies tenant changes to existing keys at once", async () => {
    const tenant = await createTenant({ limits: { requests_per_minute: 10 } });
    const { key } = await createKey(tenant.id);
    expect((await call("/v1/pools", { token: key })).headers.get("ratelimit-limit")).toBe("10");
    await admin(`/admin/v1/tenants/${tenant.id}`, { method: "PATCH", body: { limits: { requests_per_minute: 20 } } });
    expect((await call("/v1/pools", { token: key })).headers.get("ratelimit-limit")).toBe("20");
  });
});

describe("rate limits", () => {
  it("lets exactly `limit` requests through per window, counts down, then 429 with Retry-After, then resets", async () => {
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id, { requests_per_minute: 3 });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call("/v1/pools", { token: key });
      expect(res.status).toBe(200);
      remaining.push(res.headers.get("ratelimit-remaining")!);
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const limited = await call("/v1/pools", { token: key });
    const body = await expectError(limited, 429, "rate_limited");
    expect(body.error.type).toBe("rate_limit_error");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get("ratelimit-remaining")).toBe("0");
    expect(limited.headers.get("ratelimit-limit")).toBe("3");

    // Move the window into the past instead of waiting a minute.
    const hash = await sha256Hex(key);
    await runInDurableObject(keyStub(env, hash), (instance: KeyDO) => {
      (instance as unknown as { window: { start: number } }).window.start -= WINDOW_MS;
    });
    const after = await call("/v1/pools", { token: key });
    expect(after.status).toBe(200);
    expect(after.headers.get("ratelimit-remaining")).toBe("2");
  });

  it("keeps a key at its limit limited after its object is evicted", async () => {
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id, { requests_per_minute: 5 });
    for (let i = 0; i < 5; i++) expect((await call("/v1/pools", { token: key })).status).toBe(200);
    await expectError(await call("/v1/pools", { token: key }), 429, "rate_limited");
    const stub = keyStub(env, await sha256Hex(key));
    await evictDurableObject(stub);
    const after = await call("/v1/pools", { token: key });
    await expectError(after, 429, "rate_limited");
    expect(after.headers.get("ratelimit-remaining")).toBe("0");
    expect(Number(after.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it("keeps the count of a window across evictions mid-window", async () => {
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id, { requests_per_minute: 4 });
    const stub = keyStub(env, await sha256Hex(key));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await call("/v1/pools", { token: key })).status);
      await evictDurableObject(stub);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it("is exact under concurrency", async () => {
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id, { requests_per_minute: 10 });
    const results = await Promise.all(Array.from({ length: 25 }, () => call("/v1/pools", { token: key })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  });

  it("limits requests with missing or invalid keys per client IP", async () => {
    const headers = { "cf-connecting-ip": "203.0.113.77" };
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) statuses.push((await call("/v1/pools", { token: "ce_sk_guess", headers })).status);
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(30)).toEqual([429, 429]);
    const res = await call("/v1/pools", { headers });
    await expectError(res, 429, "rate_limited");
    expect(res.headers.get("retry-after")).toBe("60");
    // Another address is not affected.
    expect(
      (await call("/v1/pools", { token: "ce_sk_guess", headers: { "cf-connecting-ip": "203.0.113.78" } })).status,
    ).toBe(401);
  });
});

describe("tenant isolation", () => {
  it("shows a tenant only the pools it may use", async () => {
    const a = await createTenant({ name: "A" });
    const b = await createTenant({ name: "B" });
    await createPool("iso-a", { tenants: [a.id] });
    await createPool("iso-b", { tenants: [b.id] });
    await createPool("iso-open");
    const keyA = (await createKey(a.id)).key;
    const names = (await json<{ data: Array<{ name: string }> }>(await call("/v1/pools", { token: keyA }))).data.map(
      (p) => p.name,
    );
    expect(names).toContain("iso-a");
    expect(names).toContain("iso-open");
    expect(names).not.toContain("iso-b");
  });
});

describe("GET /v1/me", () => {
  it("describes the calling key for any scope", async () => {
    const tenant = await createTenant();
    const { id, key } = await createKey(tenant.id, { scopes: ["llm"] });
    const me = await json(await call("/v1/me", { token: key }));
    expect(me).toEqual({ key_id: id, tenant_id: tenant.id, scopes: ["llm"], default_pool: "local" });
  });
});
