/**
 * CORS in a real browser (Debian Chromium + playwright-core, docs/cors.md): pages on two local origins call
 * the stack's /v1 API with fetch and a bearer key. The tenant that allows page A's origin gets its answers;
 * another tenant's key from page A is refused (403 origin_not_allowed, readable by the page); page B's origin
 * fails the browser's preflight.
 */
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Tenant, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let stack: Stack;
let browser: Browser;
const pages: Server[] = [];
let originA: string;
let originB: string;
let allowed: Tenant;
let other: Tenant;

async function pageServer(): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>app</title>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  pages.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** What a script on `origin` gets from fetch(path) with `key`: status and error code, or the CORS failure. */
async function fromPage(origin: string, path: string, key: string) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    return await page.evaluate(
      async ({ url, key }) => {
        try {
          const res = await fetch(url, { method: "GET", headers: { authorization: `Bearer ${key}` } });
          const body = await res.json();
          return { status: res.status, code: body.error?.code ?? null, requestId: res.headers.get("x-request-id") };
        } catch (e) {
          return { failed: String(e) };
        }
      },
      { url: `${stack.url}${path}`, key },
    );
  } finally {
    await context.close();
  }
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: run 'npm test' (it installs it) or set CHROMIUM_PATH`);
  [originA, originB] = [await pageServer(), await pageServer()];
  stack = await startStack();
  allowed = await tenantWithKey(stack, { cors_allowed_origins: [originA] });
  other = await tenantWithKey(stack);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
}, 90_000);
afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await Promise.all(pages.map((s) => new Promise((resolve) => s.close(resolve))));
});

describe("CORS in Chromium", () => {
  it("lets the tenant's own origin call the API and read the answer and its exposed headers", async () => {
    const got = await fromPage(originA, "/v1/pools", allowed.key);
    expect(got).toMatchObject({ status: 200, code: null });
    expect((got as { requestId: string }).requestId).toMatch(/^req_/);
  });

  it("refuses another tenant's key from that origin with a readable 403", async () => {
    expect(await fromPage(originA, "/v1/pools", other.key)).toMatchObject({ status: 403, code: "origin_not_allowed" });
  });

  it("stops a page on an origin no one allows at the preflight", async () => {
    const got = await fromPage(originB, "/v1/pools", allowed.key);
    expect(got).toEqual({ failed: expect.stringContaining("Failed to fetch") });
  });
});
