/** Per-tenant browser origins (docs/cors.md): preflights by the union, real requests by the key's tenant. */
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { admin, createKey, createTenant, expectError, json } from "../../test/helpers.ts";
import { createApp } from "../app.ts";

const app = createApp();

/** The real app with CORS_ALLOWED_ORIGINS set to `defaults` (everything else the test deployment's bindings). */
async function send(defaults: string, path: string, init: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`https://gateway.test${path}`, init),
    { ...env, CORS_ALLOWED_ORIGINS: defaults },
    ctx,
  );
  // Not waiting on ctx: its waitUntil holds the request-stats flush, which is due up to 10 s later.
  return res;
}

const preflight = (origin: string) => ({
  method: "OPTIONS",
  headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
});
const get = (origin: string | null, key: string) => ({
  headers: { authorization: `Bearer ${key}`, ...(origin ? { origin } : {}) },
});

async function tenantWithKey(origins?: string[] | null): Promise<{ id: string; key: string }> {
  const tenant = await createTenant(origins === undefined ? {} : { cors_allowed_origins: origins });
  return { id: tenant.id, key: (await createKey(tenant.id)).key };
}

describe("per-tenant CORS origins", () => {
  it("stores and validates cors_allowed_origins on the tenant", async () => {
    const { id } = await tenantWithKey();
    const ok = await admin(`/admin/v1/tenants/${id}`, {
      method: "PATCH",
      body: { cors_allowed_origins: ["https://app.t1.example", "http://localhost:5173", "https://*.t1.example"] },
    });
    expect(ok.status).toBe(200);
    expect((await json(ok)).cors_allowed_origins).toEqual([
      "https://app.t1.example",
      "http://localhost:5173",
      "https://*.t1.example",
    ]);
    for (const [bad, index] of [
      [["https://ok.t1.example", "ftp://files.t1.example"], 1],
      [["https://app.t1.example/path"], 0],
      [["app.t1.example"], 0],
      [["https://user@app.t1.example"], 0],
    ] as const) {
      const res = await admin(`/admin/v1/tenants/${id}`, { method: "PATCH", body: { cors_allowed_origins: bad } });
      const error = await expectError(res, 400, "invalid_request");
      expect(error.error.param).toBe(`cors_allowed_origins[${index}]`);
      expect(error.error.message).toContain("origin");
    }
    const cleared = await admin(`/admin/v1/tenants/${id}`, { method: "PATCH", body: { cors_allowed_origins: null } });
    expect((await json(cleared)).cors_allowed_origins).toBeNull();
  });

  it("answers a preflight for any tenant's origin, and the real request only for that tenant's keys", async () => {
    const a = await tenantWithKey(["https://app.t2.example"]);
    const b = await tenantWithKey();
    const pre = await send("", "/v1/jobs", preflight("https://app.t2.example"));
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.t2.example");
    expect(pre.headers.get("access-control-allow-headers")).toBe("authorization");
    const other = await send("", "/v1/jobs", preflight("https://evil.t2.example"));
    expect(other.headers.get("access-control-allow-origin")).toBeNull();

    const mine = await send("", "/v1/pools", get("https://app.t2.example", a.key));
    expect(mine.status).toBe(200);
    expect(mine.headers.get("access-control-allow-origin")).toBe("https://app.t2.example");
    // Tenant B did not allow that origin: refused before the route runs, readable by the page.
    const theirs = await send("", "/v1/pools", get("https://app.t2.example", b.key));
    const error = await expectError(theirs, 403, "origin_not_allowed");
    expect(error.error.message).toContain("https://app.t2.example");
    expect(theirs.headers.get("access-control-allow-origin")).toBe("https://app.t2.example");
    // A job submit from that page with B's key creates nothing.
    const submit = await send("", "/v1/jobs", {
      method: "POST",
      headers: { ...get("https://app.t2.example", b.key).headers, "content-type": "application/json" },
      body: JSON.stringify({ workflow: {} }),
    });
    await expectError(submit, 403, "origin_not_allowed");
    // Servers send no Origin; same-origin pages (the console) send their own: both pass.
    expect((await send("", "/v1/pools", get(null, b.key))).status).toBe(200);
    expect((await send("", "/v1/pools", get("https://gateway.test", b.key))).status).toBe(200);
  });

  it("replaces the deployment's list for the tenant ([] = no browser origins)", async () => {
    const defaults = "https://app.t3.example";
    const none = await tenantWithKey([]);
    const own = await tenantWithKey(["https://own.t3.example"]);
    const plain = await tenantWithKey(null);
    const viaDefault = await send(defaults, "/v1/pools", get("https://app.t3.example", plain.key));
    expect(viaDefault.status).toBe(200);
    expect(viaDefault.headers.get("access-control-allow-origin")).toBe("https://app.t3.example");
    await expectError(
      await send(defaults, "/v1/pools", get("https://app.t3.example", none.key)),
      403,
      "origin_not_allowed",
    );
    await expectError(
      await send(defaults, "/v1/pools", get("https://app.t3.example", own.key)),
      403,
      "origin_not_allowed",
    );
    const ownOk = await send(defaults, "/v1/pools", get("https://own.t3.example", own.key));
    expect(ownOk.status).toBe(200);
    expect(ownOk.headers.get("access-control-allow-origin")).toBe("https://own.t3.example");
    expect(ownOk.headers.get("access-control-expose-headers")).toContain("x-request-id");
  });

  it("drops an origin from preflights as soon as the tenant's list no longer has it", async () => {
    const { id } = await tenantWithKey(["https://gone.t4.example"]);
    const before = await send("", "/v1/chat/completions", preflight("https://gone.t4.example"));
    expect(before.headers.get("access-control-allow-origin")).toBe("https://gone.t4.example");
    const patched = await admin(`/admin/v1/tenants/${id}`, {
      method: "PATCH",
      body: { cors_allowed_origins: ["https://new.t4.example"] },
    });
    expect(patched.status).toBe(200);
    const after = await send("", "/v1/chat/completions", preflight("https://gone.t4.example"));
    expect(after.headers.get("access-control-allow-origin")).toBeNull();
    const added = await send("", "/v1/chat/completions", preflight("https://new.t4.example"));
    expect(added.headers.get("access-control-allow-origin")).toBe("https://new.t4.example");
  });
});
