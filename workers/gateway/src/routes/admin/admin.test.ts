import { describe, expect, it } from "vitest";
import { admin, call, createKey, createPool, createTenant, expectError, json } from "../../../test/helpers.ts";

describe("admin API", () => {
  it("creates a tenant with a Standard Webhooks secret and reads it back without the secret", async () => {
    const res = await admin("/admin/v1/tenants", {
      body: { name: "Acme", image_url_allowlist: ["*.example.com"], limits: { requests_per_minute: 5 } },
    });
    expect(res.status).toBe(201);
    const tenant = await json<{ id: string; webhook_secret: string; limits: { requests_per_minute: number } }>(res);
    expect(tenant.id).toMatch(/^ten_/);
    expect(tenant.webhook_secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(tenant.limits.requests_per_minute).toBe(5);
    const got = await json(await admin(`/admin/v1/tenants/${tenant.id}`));
    expect(got.id).toBe(tenant.id);
    expect(got).not.toHaveProperty("webhook_secret");
    expect(got.image_url_allowlist).toEqual(["*.example.com"]);
  });

  it("patches a tenant and validates default_pool", async () => {
    const tenant = await createTenant();
    await expectError(
      await admin(`/admin/v1/tenants/${tenant.id}`, { method: "PATCH", body: { default_pool: "nope" } }),
      422,
      "unknown_pool",
    );
    expect((await createPool("gpu-eu")).status).toBe(201);
    const res = await admin(`/admin/v1/tenants/${tenant.id}`, {
      method: "PATCH",
      body: { default_pool: "gpu-eu", cache_all: true },
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.default_pool).toBe("gpu-eu");
    expect(body.cache_all).toBe(true);
    await expectError(
      await admin("/admin/v1/tenants/ten_missing", { method: "PATCH", body: { name: "x" } }),
      404,
      "tenant_not_found",
    );
  });

  it("refuses a second tenant with the same name (case-insensitively), on create and on rename", async () => {
    const name = `Dup ${crypto.randomUUID()}`;
    const first = await createTenant({ name });
    const again = await expectError(await admin("/admin/v1/tenants", { body: { name } }), 409, "tenant_name_taken");
    expect(again.error.param).toBe("name");
    expect(again.error.message).toContain(first.id);
    await expectError(
      await admin("/admin/v1/tenants", { body: { name: name.toUpperCase() } }),
      409,
      "tenant_name_taken",
    );
    const other = await createTenant();
    await expectError(
      await admin(`/admin/v1/tenants/${other.id}`, { method: "PATCH", body: { name } }),
      409,
      "tenant_name_taken",
    );
    // Keeping its own name (or changing its case) is no conflict.
    const same = await admin(`/admin/v1/tenants/${first.id}`, { method: "PATCH", body: { name: name.toLowerCase() } });
    expect(same.status).toBe(200);
    const list = await json<{ data: Array<{ name: string }> }>(await admin("/admin/v1/tenants"));
    expect(list.data.filter((t) => t.name.toLowerCase() === name.toLowerCase())).toHaveLength(1);
  });

  it("rotates the webhook secret and keeps the previous one for 24 h", async () => {
    const tenant = await createTenant();
    const res = await admin(`/admin/v1/tenants/${tenant.id}/webhook-secret/rotate`, { method: "POST" });
    expect(res.status).toBe(200);
    const body = await json<{ webhook_secret: string; previous_secret_expires_at: string }>(res);
    expect(body.webhook_secret).not.toBe(tenant.webhook_secret);
    const ttl = Date.parse(body.previous_secret_expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(23.9 * 3600 * 1000);
    expect(ttl).toBeLessThanOrEqual(24 * 3600 * 1000);
  });

  it("creates pools with tenant lists and rejects duplicates and unknown tenants", async () => {
    const tenant = await createTenant();
    expect((await createPool("p-one", { tenants: [tenant.id], region: "eu" })).status).toBe(201);
    await expectError(await createPool("p-one"), 409, "pool_exists");
    const bad = await expectError(
      await createPool("p-two", { tenants: [tenant.id, "ten_nobody"] }),
      422,
      "unknown_tenant",
    );
    expect(bad.error.param).toBe("tenants[1]");
    const badName = await expectError(await createPool("Bad Name"), 400, "invalid_request");
    expect(badName.error.param).toBe("name");
  });

  it("creates keys shown once, lists them without secrets, revokes them", async () => {
    const tenant = await createTenant();
    const created = await createKey(tenant.id, { name: "ci", requests_per_minute: 100 });
    expect(created.key).toMatch(/^ce_sk_[0-9A-Za-z]{34}$/);
    const list = await json<{ data: Array<Record<string, unknown>> }>(
      await admin(`/admin/v1/keys?tenant_id=${tenant.id}`),
    );
    expect(list.data).toHaveLength(1);
    expect(JSON.stringify(list)).not.toContain(created.key);
    expect(list.data[0]!.prefix).toBe(created.key.slice(0, 10));
    const revoked = await json(await admin(`/admin/v1/keys/${created.id}`, { method: "DELETE" }));
    expect(revoked.revoked_at).toEqual(expect.any(String));
    // idempotent
    expect((await admin(`/admin/v1/keys/${created.id}`, { method: "DELETE" })).status).toBe(200);
    await expectError(await admin("/admin/v1/keys/key_nope", { method: "DELETE" }), 404, "key_not_found");
    await expectError(
      await admin("/admin/v1/keys", { body: { tenant_id: "ten_nope", scopes: ["llm"] } }),
      422,
      "unknown_tenant",
    );
    const badScope = await expectError(
      await admin("/admin/v1/keys", { body: { tenant_id: tenant.id, scopes: ["root"] } }),
      400,
      "invalid_request",
    );
    expect(badScope.error.param).toBe("scopes[0]");
    await expectError(await admin("/admin/v1/keys"), 400, "invalid_request");
  });

  it("creates and revokes pool-scoped runner tokens", async () => {
    await createPool("runners-a");
    const res = await admin("/admin/v1/runner-tokens", { body: { pool: "runners-a" } });
    expect(res.status).toBe(201);
    const token = await json<{ id: string; token: string; pool: string }>(res);
    expect(token.token).toMatch(/^ce_rt_/);
    expect(token.pool).toBe("runners-a");
    await expectError(await admin("/admin/v1/runner-tokens", { body: { pool: "nope" } }), 422, "unknown_pool");
    const revoked = await json(await admin(`/admin/v1/runner-tokens/${token.id}`, { method: "DELETE" }));
    expect(revoked.revoked_at).toEqual(expect.any(String));
  });

  it("requires the admin token", async () => {
    await expectError(await call("/admin/v1/tenants"), 401, "missing_admin_token");
    await expectError(await call("/admin/v1/tenants", { token: "wrong" }), 401, "invalid_admin_token");
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id);
    await expectError(await call("/admin/v1/tenants", { token: key }), 401, "invalid_admin_token");
  });
});
