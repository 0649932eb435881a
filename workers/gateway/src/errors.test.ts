import { describe, expect, it } from "vitest";
import { admin, call, createKey, createTenant, expectError, json } from "../test/helpers.ts";

describe("error envelope", () => {
  it("404 for unknown routes, in the envelope, with x-request-id", async () => {
    const res = await call("/v1/nothing-here");
    const body = await expectError(res, 404, "not_found");
    expect(body.error.type).toBe("not_found_error");
    expect(body.error.param).toBeNull();
    expect(body.error.message).toContain("/v1/nothing-here");
  });

  it("405 with Allow for a known path and the wrong method", async () => {
    const res = await admin("/admin/v1/tenants", { method: "PUT" });
    const body = await expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("GET, HEAD, POST");
    expect(body.error.message).toContain("PUT");
    const res2 = await call("/health", { method: "DELETE" });
    await expectError(res2, 405, "method_not_allowed");
    const res3 = await admin("/admin/v1/keys/key_123", { method: "GET" });
    await expectError(res3, 405, "method_not_allowed");
    expect(res3.headers.get("allow")).toBe("DELETE");
  });

  it("400 invalid_json for malformed JSON", async () => {
    const res = await admin("/admin/v1/tenants", {
      rawBody: '{"name": "x",',
      headers: { "content-type": "application/json" },
    });
    const body = await expectError(res, 400, "invalid_json");
    expect(body.error.message).toMatch(/not valid JSON/);
    await expectError(
      await admin("/admin/v1/tenants", { rawBody: "", headers: { "content-type": "application/json" } }),
      400,
      "invalid_json",
    );
    await expectError(
      await admin("/admin/v1/tenants", {
        rawBody: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
        headers: { "content-type": "application/json" },
      }),
      400,
      "invalid_json",
    );
  });

  it("415 when the body is not declared as JSON", async () => {
    const res = await admin("/admin/v1/tenants", {
      rawBody: "name=x",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    await expectError(res, 415, "unsupported_media_type");
  });

  it("400 invalid_request naming the first bad field", async () => {
    const a = await expectError(await admin("/admin/v1/tenants", { body: { name: 42 } }), 400, "invalid_request");
    expect(a.error.param).toBe("name");
    const b = await expectError(
      await admin("/admin/v1/tenants", { body: { name: "x", limits: { requests_per_minute: 0 } } }),
      400,
      "invalid_request",
    );
    expect(b.error.param).toBe("limits.requests_per_minute");
    const c = await expectError(
      await admin("/admin/v1/tenants", { body: { name: "x", bogus: true } }),
      400,
      "invalid_request",
    );
    expect(c.error.param).toBe("bogus");
    const d = await expectError(
      await admin("/admin/v1/tenants", { body: { name: "x", image_url_allowlist: ["ok.com", "bad host/"] } }),
      400,
      "invalid_request",
    );
    expect(d.error.param).toBe("image_url_allowlist[1]");
    const e = await expectError(await admin("/admin/v1/tenants", { body: [1, 2] }), 400, "invalid_request");
    expect(e.error.param).toBeNull();
    const f = await expectError(await admin("/admin/v1/tenants", { body: {} }), 400, "invalid_request");
    expect(f.error.message).toBe("name: is required");
  });

  it("413 naming the limit for oversize bodies, declared or streamed", async () => {
    const big = JSON.stringify({ name: "x".repeat(1024 * 1024 + 10) });
    const res = await admin("/admin/v1/tenants", { rawBody: big, headers: { "content-type": "application/json" } });
    const body = await expectError(res, 413, "payload_too_large");
    expect(body.error.message).toContain("1 MiB");
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
        for (let i = 0; i < 20; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const streamed = await admin("/admin/v1/tenants", {
      rawBody: stream,
      headers: { "content-type": "application/json" },
    });
    await expectError(streamed, 413, "payload_too_large");
  });

  it("keeps RateLimit headers on authenticated error responses", async () => {
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id, { scopes: ["llm"] });
    const res = await call("/v1/pools", { token: key });
    await expectError(res, 403, "insufficient_scope");
    expect(res.headers.get("ratelimit-limit")).not.toBeNull();
  });

  it("serves /health and an OpenAPI 3.1 document covering every route", async () => {
    expect(await json(await call("/health"))).toMatchObject({ status: "ok" });
    const doc = await json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
      await call("/openapi.json"),
    );
    expect(doc.openapi).toBe("3.1.0");
    const { createApp } = await import("./app.ts");
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)),
    );
    const routes = createApp()
      .routes.filter((r) => r.method !== "ALL")
      .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_]+)/g, "{$1}").replace(/\/$/, "") || "/"}`);
    expect(routes.length).toBeGreaterThan(10);
    for (const r of routes) expect(documented, r).toContain(r);
  });
});
