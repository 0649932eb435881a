/**
 * Request monitoring in the console (issue 17 item 5) in a real browser (Debian Chromium + playwright-core)
 * against the local stack: after some requests (one of them an error), the operator's Monitoring page lists
 * the route with its count and p95, narrows to a tenant, and the tenant's Usage page shows its own figures.
 */
import { type Browser, chromium, type Locator } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePool, runnerToken, type Tenant, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { shot, signIn } from "./fixtures.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("web console: monitoring", () => {
  let stack: Stack;
  let tenant: Tenant;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startStack();
    tenant = await tenantWithKey(stack);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  const get = (path: string, key: string) =>
    fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${key}` } }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    });

  /** The cells of the row of `table` whose route (or tenant) cell is exactly `name`. */
  const rowCells = (table: Locator, name: string) =>
    table
      .getByRole("row")
      .filter({ has: table.page().getByRole("cell", { name, exact: true }) })
      .getByRole("cell");

  const lease = (token: string, body: Record<string, unknown>) =>
    fetch(`${stack.url}/runner/v1/lease`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ runner_id: "r-monitoring", version: "test", wait_s: 0, ...body }),
    }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    });

  it("shows per-route counts, p95 and error rates to the operator, and a tenant its own", async () => {
    for (let i = 0; i < 3; i++) expect(await get("/v1/me", tenant.key)).toBe(200);
    expect(await get("/v1/jobs/job_0000000000000000000000000a", tenant.key)).toBe(404);
    // Refused at authentication: listed as "unauthenticated", a 401.
    expect(await get("/v1/usage", "ce_sk_not-a-key")).toBe(401);
    // A runner: a long poll with no work and the protocol's "send your capabilities" 409.
    await ensurePool(stack, "monitoring");
    const rt = await runnerToken(stack, "monitoring");
    expect(await lease(rt, {})).toBe(204);
    expect(await lease(rt, { capabilities_digest: "b".repeat(64) })).toBe(409);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    await signIn(page, stack.url, stack.adminToken);
    await page.getByRole("link", { name: "Monitoring" }).click();
    await page.getByRole("heading", { name: "Monitoring" }).waitFor();

    const routes = page.getByRole("table", { name: "Per route" });
    // Counts reach D1 in the background: reload until this isolate's flush shows them.
    await expect
      .poll(async () => {
        await page.reload();
        await routes.waitFor();
        return rowCells(routes, "/v1/me").nth(2).textContent();
      })
      .toBe("3");
    const me = rowCells(routes, "/v1/me");
    expect(await me.nth(0).textContent()).toBe("GET");
    expect(await me.nth(5).textContent()).toMatch(/^\d+(\.\d)? ms$/);
    const job = rowCells(routes, "/v1/jobs/:id");
    expect(await job.nth(2).textContent()).toBe("1");
    expect(await job.nth(6).textContent()).toBe("100.0 %");
    // The runner's long polls are not among the clients' routes; the refused request is "unauthenticated".
    expect(await routes.getByText("/runner/v1/lease").count()).toBe(0);
    // The console's own page load adds no 404 (no /favicon.ico request: the page names an inline icon).
    expect(await routes.getByText("(unmatched)").count()).toBe(0);
    const callers = page.getByRole("table", { name: "Per tenant" });
    expect(await rowCells(callers, "unauthenticated (refused, 401)").nth(1).textContent()).toBe("1");
    const categories = page.getByRole("table", { name: "By category" });
    expect(await rowCells(categories, "Runners").nth(1).textContent()).toBe("2");
    // The charts are inline SVG with their numbers in the caption.
    expect(await page.getByRole("img", { name: "p95 latency" }).count()).toBe(1);
    expect(
      await page
        .locator("figcaption")
        .filter({ hasText: /^Requests per minute \(peak \d+\)$/ })
        .count(),
    ).toBe(1);
    await shot(page, "monitoring");

    // The runners' view: the lease marked as a long poll, its 409 expected (not an error).
    await page.getByRole("link", { name: "Runners" }).first().click();
    await page.getByRole("heading", { name: "Runners" }).waitFor();
    const runnerRoutes = page.getByRole("table", { name: "Per route" });
    const leaseRow = rowCells(runnerRoutes, "/runner/v1/lease long poll");
    expect(await leaseRow.nth(2).textContent()).toBe("2");
    expect(await leaseRow.nth(6).textContent()).toBe("0.0 %");
    expect(await leaseRow.nth(8).textContent()).toBe("1");
    await shot(page, "monitoring-runners");
    await page.getByRole("link", { name: "API (clients)" }).first().click();
    await page.getByRole("heading", { name: "API (clients)" }).waitFor();

    // Narrow to the tenant: only its requests.
    const tenants = page.getByRole("table", { name: "Per tenant" });
    await tenants.getByRole("link", { name: tenant.id }).click();
    await page.getByText(`Showing tenant ${tenant.id}`).waitFor();
    expect(await page.getByRole("table", { name: "Per tenant" }).getByRole("row").count()).toBe(2);

    await page.getByRole("link", { name: "Last day" }).click();
    await page.getByRole("link", { name: "Last day" }).and(page.locator("[aria-current=page]")).waitFor();
    expect(
      await rowCells(page.getByRole("table", { name: "Per route" }), "/v1/me")
        .nth(2)
        .textContent(),
    ).toBe("3");
    expect(problems).toEqual([]);
    await context.close();

    // The tenant's own view on its Usage page.
    const tenantContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const tenantPage = await tenantContext.newPage();
    await signIn(tenantPage, stack.url, tenant.key);
    await tenantPage.goto(`${stack.url}/console#/usage`);
    await tenantPage.getByRole("heading", { name: "Requests and latency (this tenant)" }).waitFor();
    const own = tenantPage.getByRole("table", { name: "Per route" });
    expect(await rowCells(own, "/v1/me").nth(2).textContent()).toMatch(/^[3-9]$/);
    expect(await tenantPage.getByRole("table", { name: "Per tenant" }).count()).toBe(0);
    await tenantContext.close();
  });
});
