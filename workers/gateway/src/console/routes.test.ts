/** /console: the shell and its two assets, served by the gateway with a strict CSP and no API key. */
import { describe, expect, it } from "vitest";
import { call, json } from "../../test/helpers.ts";
import { CONSOLE_CSS, CONSOLE_JS, CONSOLE_VERSION } from "./assets.gen.ts";
import { CONSOLE_CSP } from "./routes.ts";

describe("GET /console", () => {
  it("serves the HTML shell with a strict CSP, a labelled key field and content-hashed assets", async () => {
    for (const path of ["/console"]) {
      const res = await call(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toBe(CONSOLE_CSP);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).toContain("img-src 'self' data: blob:");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      const html = await res.text();
      expect(html).toContain('<label for="key">API key or admin token</label>');
      expect(html).toContain(`src="/console/assets/console-${CONSOLE_VERSION}.js"`);
      expect(html).toContain(`href="/console/assets/console-${CONSOLE_VERSION}.css"`);
      // No inline script: every <script> has a src.
      expect(html.match(/<script(?![^>]*\bsrc=)[^>]*>/g)).toBeNull();
      expect(html).not.toMatch(/\sstyle=|<style/);
    }
  });

  it("serves the script and stylesheet with long-lived caching", async () => {
    const js = await call(`/console/assets/console-${CONSOLE_VERSION}.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toContain("immutable");
    expect(await js.text()).toBe(CONSOLE_JS);
    const css = await call(`/console/assets/console-${CONSOLE_VERSION}.css`);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(await css.text()).toBe(CONSOLE_CSS);
  });

  it("answers 404 asset_not_found for an asset of another build, and is documented beside /docs, not under /v1", async () => {
    const stale = await call("/console/assets/console-000000000000.js");
    expect(stale.status).toBe(404);
    expect(((await stale.json()) as { error: { code: string } }).error.code).toBe("asset_not_found");
    const doc = await json<{ paths: Record<string, Record<string, { tags?: string[] }>> }>(await call("/openapi.json"));
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/console"))).toEqual([
      "/console",
      "/console/assets/{file}",
    ]);
    expect(doc.paths["/console"]?.get?.tags).toEqual(["Meta"]);
  });
});
