/**
 * The Admin page's pool groups (docs/capabilities.md "Regions and failover") in a real browser (Debian
 * Chromium + playwright-core) against the local stack: an operator creates a group from two pools, sees it
 * listed with its members, gets the API's error for a member that is no pool, and deletes the group; a
 * tenant's Pools page shows a pool's model files with how many runners hold them (GET /v1/pools/:name).
 */
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { signIn } from "./fixtures.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("web console: pool groups", () => {
  let stack: Stack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startStack();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("creates, lists and deletes a pool group on the Admin page", async () => {
    await stack.admin("/admin/v1/pools", { name: "pg-eu", region: "eu-west" });
    await stack.admin("/admin/v1/pools", { name: "pg-us", region: "us-east" });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    await signIn(page, stack.url, stack.adminToken);
    await page.getByRole("heading", { name: "Pool groups" }).waitFor();

    await page.getByLabel("New group").fill("pg");
    await page.getByLabel("Members (pool@region:weight, ...)").fill("pg-eu, pg-us:3");
    await page.getByLabel("Max wait (s)").fill("45");
    await page.getByRole("button", { name: "Create pool group" }).click();
    const groups = page.getByRole("table", { name: "Pool groups" });
    const row = groups.locator("tr", { hasText: "pg-eu" });
    await expect.poll(() => row.textContent()).toContain("pg-us (us-east, weight 3)");
    expect(await row.textContent()).toContain("pg-eu (eu-west, weight 1)");
    expect(await row.textContent()).toContain("45");
    const stored = await stack.admin<{ max_wait_s: number }>("/admin/v1/pool-groups/pg");
    expect(stored.max_wait_s).toBe(45);

    // A member that is no pool: the API's error names it.
    await page.getByLabel("New group").fill("pg-bad");
    await page.getByLabel("Members (pool@region:weight, ...)").fill("pg-eu, nope");
    await page.getByRole("button", { name: "Create pool group" }).click();
    await expect.poll(() => page.getByRole("alert").allTextContents()).toContainEqual(expect.stringContaining("nope"));

    page.once("dialog", (d) => void d.accept());
    await row.getByRole("button", { name: "Delete pool group pg" }).click();
    await expect.poll(() => groups.locator("tr", { hasText: "pg-eu" }).count()).toBe(0);
    const gone = await fetch(`${stack.url}/admin/v1/pool-groups/pg`, {
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    expect(gone.status).toBe(404);
    expect(problems).toEqual([]);
    await context.close();
  });
  it("shows a tenant each pool's model files with runner counts on the Pools page", async () => {
    await stack.admin("/admin/v1/pools", { name: "pm" });
    const file = { url: "https://models.example.com/x.safetensors", folder: "checkpoints", sha256: "ab".repeat(32) };
    await stack.admin("/admin/v1/pools/pm/manifest", { models: [{ ...file, filename: "sd15.safetensors" }] }, "PUT");
    const { token } = await stack.admin<{ token: string }>("/admin/v1/runner-tokens", { pool: "pm" });
    const status = (runner_id: string, state: string) => ({
      runner_id,
      manifest_digest: null,
      state: state === "present" ? "ready" : "syncing",
      warmup: { state: "none", seconds: null, error: null },
      files: [
        {
          folder: "checkpoints",
          filename: "sd15.safetensors",
          state,
          bytes: 1,
          size: 2,
          error: null,
          source: "manifest",
        },
      ],
    });
    for (const [id, state] of [
      ["gpu-a", "present"],
      ["gpu-b", "downloading"],
    ] as const) {
      const res = await fetch(`${stack.url}/runner/v1/manifest/status`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(status(id, state)),
      });
      expect(res.status).toBe(204);
    }
    const tenant = await tenantWithKey(stack);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    await signIn(page, stack.url, tenant.key);
    await page.getByRole("link", { name: "Pools" }).click();
    const files = page.getByRole("table", { name: "Model files of pm" });
    await files.waitFor();
    const cells = files.getByRole("row").filter({ hasText: "checkpoints/sd15.safetensors" }).getByRole("cell");
    expect(await cells.allTextContents()).toEqual(["checkpoints/sd15.safetensors", "1", "1", "0", "0"]);
    expect(await page.getByText("2 runner(s) reported").count()).toBe(1);
    expect(problems).toEqual([]);
    await context.close();
  });
});
