import { env } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createKey, createTenant } from "../../test/helpers.ts";
import type { AppEnv } from "../types.ts";
import { apiKeyAuth } from "./api-key-auth.ts";

describe("RateLimit-* headers", () => {
  it("reach a response the handler built itself, not only c.json/c.body ones", async () => {
    const app = new Hono<AppEnv>();
    app.use("*", apiKeyAuth({}));
    app.get("/raw", () => new Response("raw bytes", { headers: { "content-type": "application/octet-stream" } }));
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id, { requests_per_minute: 40 });
    const res = await app.request("/raw", { headers: { authorization: `Bearer ${key}` } }, env);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("raw bytes");
    expect(res.headers.get("ratelimit-limit")).toBe("40");
    expect(res.headers.get("ratelimit-remaining")).toBe("39");
    expect(Number(res.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
  });
});
