/**
 * GET /console: the web console (README "Console"). A server-rendered shell plus one script and one
 * stylesheet, built from ./client by scripts/build-console.mjs into assets.gen.ts and served from here under
 * content-hashed names (cached for a year). The console calls the public API like any client, with the
 * key the person signed in with; these routes need no key. Documented beside /docs (HTML, not under /v1).
 */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";
import { CONSOLE_CSS, CONSOLE_JS, CONSOLE_VERSION } from "./assets.gen.ts";
import { renderShell } from "./shell.ts";

/** Only the gateway's own script, styles and API; images also from data: and blob: (output previews). */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SCRIPT = `console-${CONSOLE_VERSION}.js`;
const STYLE = `console-${CONSOLE_VERSION}.css`;

function secure(c: Context<AppEnv>): void {
  c.header("content-security-policy", CONSOLE_CSP);
  c.header("x-content-type-options", "nosniff");
  c.header("referrer-policy", "no-referrer");
  c.header("x-frame-options", "DENY");
}

function shell(c: Context<AppEnv>) {
  secure(c);
  c.header("cache-control", "no-cache");
  return c.html(renderShell({ script: `/console/assets/${SCRIPT}`, style: `/console/assets/${STYLE}` }));
}

function asset(c: Context<AppEnv>, body: string, type: string) {
  secure(c);
  c.header("cache-control", "public, max-age=31536000, immutable");
  return c.body(body, 200, { "content-type": type });
}

export const consoleRoutes = new Hono<AppEnv>();
consoleRoutes.get("/", shell);
consoleRoutes.get("/assets/:file", (c) => {
  const file = c.req.param("file");
  if (file === SCRIPT) return asset(c, CONSOLE_JS, "text/javascript; charset=utf-8");
  if (file === STYLE) return asset(c, CONSOLE_CSS, "text/css; charset=utf-8");
  throw new ApiError(
    404,
    "asset_not_found",
    `No console asset '${file.slice(0, 80)}': assets are named by content hash, so reload /console.`,
    { param: "file" },
  );
});

const SECURITY_HEADERS = {
  "Content-Security-Policy": { description: "Only the gateway's own script, styles and API", required: true },
  "X-Content-Type-Options": { description: "nosniff", required: true },
  "Referrer-Policy": { description: "no-referrer", required: true },
  "X-Frame-Options": { description: "DENY", required: true },
};

export const consoleDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/console",
    summary: "Web console",
    description:
      "Run workflows and templates, watch jobs, pools, usage, and (with the admin token) manage tenants and keys in a browser. The page signs in with an API key or the admin token and calls this API with it.",
    tag: "Meta",
    security: "none",
    responses: {
      200: { description: "HTML page", contentType: "text/html", schema: z.string(), headers: SECURITY_HEADERS },
    },
  },
  {
    method: "get",
    path: "/console/assets/:file",
    summary: "The console's script and stylesheet",
    description:
      "Named by content hash (`console-<hash>.js`, `console-<hash>.css`, as /console links them); cached immutably.",
    tag: "Meta",
    security: "none",
    responses: {
      200: {
        description: "The script",
        contentType: "text/javascript",
        schema: z.string(),
        alternatives: { "text/css": z.string() },
        headers: { ...SECURITY_HEADERS, "Cache-Control": { description: "public, immutable", required: true } },
      },
      404: { description: "No such asset (an older build's name)", schema: ErrorEnvelope },
    },
  },
];
