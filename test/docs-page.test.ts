/** The API reference page and the OpenAPI document, checked with independent tools: a real browser and an OpenAPI 3.1 validator. */
import { existsSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "./harness/stack.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("OpenAPI document and /docs", () => {
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

  it("is a valid OpenAPI 3.1 document", async () => {
    const doc = await (await fetch(`${stack.url}/openapi.json`)).json();
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
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

    await page.fill("#filter", "runner-tokens");
    const visible = await page.locator(".op[data-search]:visible").count();
    expect(visible).toBe(2);
    expect(errors).toEqual([]);
    await page.screenshot({ path: ".tmp/docs-page.png", fullPage: false });
  });
});
