import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createKey, createTenant } from "../../test/helpers.ts";
import { createApp } from "../app.ts";
import { allowedOrigin, parseCorsOrigins } from "./cors.ts";

const app = createApp();

/** The real app with CORS_ALLOWED_ORIGINS set (everything else the test deployment's own bindings). */
async function send(origins: string, path: string, init: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`https://gateway.test${path}`, init),
    { ...env, CORS_ALLOWED_ORIGINS: origins },
    ctx,
  );
  // Not waiting on ctx: its waitUntil holds the request-stats flush, which is due up to 10 s later.
  return res;
}

const ORIGINS = "https://app.example.com, https://*.example.org, http://localhost:5173/";

function preflight(origin: string, method = "POST", headers = "authorization,content-type,x-stainless-os") {
  return {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers },
  };
}

describe("CORS", () => {
  it("answers a preflight from an allowed origin with 204 and no key", async () => {
    for (const path of ["/v1/chat/completions", "/v1/jobs", "/v1/jobs/job_x/events"]) {
      const res = await send(ORIGINS, path, preflight("https://app.example.com"));
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
      expect(res.headers.get("access-control-allow-methods")).toContain("POST");
      expect(res.headers.get("access-control-allow-headers")).toBe("authorization,content-type,x-stainless-os");
      expect(res.headers.get("access-control-max-age")).toBe("600");
      expect(res.headers.get("vary")).toContain("Origin");
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    }
  });

  it("does not allow other origins, and adds nothing when CORS_ALLOWED_ORIGINS is empty", async () => {
    const evil = await send(ORIGINS, "/v1/jobs", preflight("https://evil.example.net"));
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    const off = await send("", "/v1/jobs", preflight("https://app.example.com"));
    expect(off.headers.get("access-control-allow-origin")).toBeNull();
    expect(off.status).toBe(401);
  });

  it("marks real answers, errors included, and exposes the headers scripts need", async () => {
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id);
    const ok = await send(ORIGINS, "/v1/pools", {
      headers: { origin: "https://cdn.example.org", authorization: `Bearer ${key}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://cdn.example.org");
    const exposed = ok.headers.get("access-control-expose-headers") ?? "";
    for (const h of ["x-request-id", "ratelimit-remaining", "retry-after", "x-cache"]) expect(exposed).toContain(h);
    const unauthorized = await send(ORIGINS, "/v1/pools", { headers: { origin: "http://localhost:5173" } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    // The admin API is not for browsers.
    const adminPreflight = await send(ORIGINS, "/admin/v1/tenants", preflight("https://app.example.com"));
    expect(adminPreflight.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("matches origins exactly, wildcards on strict subdomains only", () => {
    const rules = parseCorsOrigins(`${ORIGINS}, not an origin, https://x.example.com/path`);
    expect(rules.invalid).toEqual(["not an origin", "https://x.example.com/path"]);
    expect(allowedOrigin("https://app.example.com", rules)).toBe("https://app.example.com");
    expect(allowedOrigin("https://APP.example.com:443", rules)).toBe("https://APP.example.com:443");
    expect(allowedOrigin("http://app.example.com", rules)).toBeNull();
    expect(allowedOrigin("https://a.b.example.org", rules)).toBe("https://a.b.example.org");
    expect(allowedOrigin("https://example.org", rules)).toBeNull();
    expect(allowedOrigin("https://evilexample.org", rules)).toBeNull();
    expect(allowedOrigin("https://a.example.org:8443", rules)).toBeNull();
    expect(allowedOrigin("http://localhost:5173", rules)).toBe("http://localhost:5173");
    expect(allowedOrigin("null", rules)).toBeNull();
    expect(allowedOrigin("https://anything.test", parseCorsOrigins("*"))).toBe("*");
  });
});
