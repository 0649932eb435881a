/**
 * The API reference page in a real browser. (The OpenAPI document itself is checked without a browser in
 * test/openapi/document.test.ts.)
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "./harness/stack.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("/docs", () => {
  let stack: Stack;
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`Chromium not found at ${CHROMIUM}: run 'npm test' (it installs it) or set CHROMIUM_PATH`);
    stack = await startStack();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("renders every operation in a browser, expands one, and filters", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${stack.url}/docs`);
    await page.waitForSelector(".op[data-search]");
    const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    expect(await page.locator(".op[data-search]").count()).toBe(operations);

    const keyOp = page.locator(".op[data-search]", { hasText: "Create an API key" });
    await keyOp.locator("button").click();
    await expect.poll(() => keyOp.getAttribute("class")).toContain("open");
    expect(await keyOp.locator(".details").textContent()).toContain("tenant_id");

    // Every schema is shown inlined: no bare $ref pointer anywhere on the page, none missing.
    const text = (await page.locator("main").textContent()) ?? "";
    expect(text).not.toContain("$ref");
    expect(text).not.toContain("(missing schema");
    expect(text).toContain("invalid_request");
    // Request headers, response headers and examples of a submit.
    const submit = page.locator(".op[data-search]", { hasText: "Submit a ComfyUI workflow" });
    await submit.locator("button").click();
    const submitText = (await submit.locator(".details").textContent()) ?? "";
    for (const expected of [
      "Idempotency-Key",
      "Prefer",
      "RateLimit-Remaining",
      "Retry-After",
      "Location",
      "SaveImage",
    ]) {
      expect(submitText).toContain(expected);
    }

    await page.fill("#filter", "runner-tokens");
    const visible = await page.locator(".op[data-search]:visible").count();
    const runnerTokenOps = Object.entries(doc.paths)
      .filter(([path]) => path.includes("runner-tokens"))
      .reduce((n, [, ops]) => n + Object.keys(ops).length, 0);
    expect(runnerTokenOps).toBeGreaterThanOrEqual(2);
    expect(visible).toBe(runnerTokenOps);
    expect(errors).toEqual([]);
    await page.screenshot({ path: ".tmp/docs-page.png", fullPage: false });
  });
});
