/** Health, OpenAPI document and the docs page. */
import { Hono } from "hono";
import { z } from "zod";
import { DOCS_PAGE } from "../openapi/docs-page.ts";
import { buildOpenApi } from "../openapi/document.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";

export const VERSION = "0.1.0";

export function metaRoutes(allDocs: () => RouteDoc[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/health", (c) => c.json({ status: "ok", version: VERSION }));
  app.get("/openapi.json", (c) => {
    c.header("cache-control", "public, max-age=300");
    return c.json(buildOpenApi(allDocs(), { version: VERSION }));
  });
  app.get("/docs", (c) => {
    c.header(
      "content-security-policy",
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
    );
    return c.html(DOCS_PAGE);
  });
  return app;
}

export const metaDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/health",
    summary: "Liveness check",
    tag: "Meta",
    security: "none",
    responses: {
      200: { description: "The gateway is up", schema: z.object({ status: z.literal("ok"), version: z.string() }) },
    },
  },
  {
    method: "get",
    path: "/openapi.json",
    summary: "This OpenAPI 3.1 document",
    tag: "Meta",
    security: "none",
    responses: { 200: { description: "OpenAPI document", schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: "get",
    path: "/docs",
    summary: "Human-readable API reference",
    tag: "Meta",
    security: "none",
    responses: {
      200: {
        description: "HTML page",
        contentType: "text/html",
        schema: z.string(),
        headers: { "Content-Security-Policy": { description: "Scripts and styles of the page only", required: true } },
      },
    },
  },
];
