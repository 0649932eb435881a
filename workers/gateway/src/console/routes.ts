/**
 * GET /console: the web console (docs/console.md). A server-rendered shell plus one script and one
 * stylesheet, built from ./client by scripts/build-console.mjs into assets.gen.ts and served from here under
 * content-hashed names (cached for a year). The console calls the public API like any client, with the
 * key the person signed in with; these routes need no key. Not part of the API document (HTML, not /v1).
 */
import { type Context, Hono } from "hono";
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

const SCRIPT_PATH = `/console/assets/console-${CONSOLE_VERSION}.js`;
const STYLE_PATH = `/console/assets/console-${CONSOLE_VERSION}.css`;

function secure(c: Context<AppEnv>): void {
  c.header("content-security-policy", CONSOLE_CSP);
  c.header("x-content-type-options", "nosniff");
  c.header("referrer-policy", "no-referrer");
  c.header("x-frame-options", "DENY");
}

function shell(c: Context<AppEnv>) {
  secure(c);
  c.header("cache-control", "no-cache");
  return c.html(renderShell({ script: SCRIPT_PATH, style: STYLE_PATH }));
}

function asset(c: Context<AppEnv>, body: string, type: string) {
  secure(c);
  c.header("cache-control", "public, max-age=31536000, immutable");
  return c.body(body, 200, { "content-type": type });
}

export const consoleRoutes = new Hono<AppEnv>();
consoleRoutes.get("/", shell);
consoleRoutes.get(`/assets/console-${CONSOLE_VERSION}.js`, (c) =>
  asset(c, CONSOLE_JS, "text/javascript; charset=utf-8"),
);
consoleRoutes.get(`/assets/console-${CONSOLE_VERSION}.css`, (c) => asset(c, CONSOLE_CSS, "text/css; charset=utf-8"));
