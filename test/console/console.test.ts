/**
 * The web console in a real browser (Debian Chromium + playwright-core) against the real stack, a runner and
 * the ComfyUI double: sign in with a key, run a workflow and watch the progress bar move to the output image,
 * cancel a run, open a failed job and see its node, redeliver a webhook, chat in the playground; the operator
 * view creates and revokes a key. Screenshots of each page go to docs/console/.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRIVIAL_WORKFLOW } from "../harness/api.ts";
import { type ConsoleWorld, shot, signIn, startConsoleWorld, TXT2IMG } from "./fixtures.ts";

describe("web console", () => {
  let w: ConsoleWorld;
  beforeAll(async () => {
    w = await startConsoleWorld();
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  const submit = async (body: Record<string, unknown>) => {
    const res = await fetch(`${w.stack.url}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${w.tenant.key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  };
  const jobStatus = async (id: string) => {
    const res = await fetch(`${w.stack.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${w.tenant.key}` } });
    return ((await res.json()) as { status: string }).status;
  };

  /** Progress values the page shows, recorded by a MutationObserver on every <progress value>. */
  const recordProgress = (page: Page) =>
    page.evaluate(() => {
      const seen: number[] = [];
      (window as unknown as { seen: number[] }).seen = seen;
      // Live previews: every src the preview <img> shows, and whether the output was there yet.
      const previews: Array<{ tag: string; src: string; outputShown: boolean }> = [];
      (window as unknown as { previews: typeof previews }).previews = previews;
      new MutationObserver((records) => {
        for (const r of records) {
          const el = r.target as HTMLElement;
          if (el.id === "run-progress") seen.push((el as HTMLProgressElement).value);
          if (el.classList.contains("preview") && r.attributeName === "src")
            previews.push({
              tag: el.tagName,
              src: (el as HTMLImageElement).src.slice(0, 40),
              outputShown: document.querySelector(".run-result .gallery img") !== null,
            });
        }
      }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["value", "src"] });
    });

  it("signs in with an API key, runs a workflow, shows the progress bar moving and the output image", async () => {
    const { context, page, problems } = await w.open();
    await page.goto(`${w.stack.url}/console`);
    await expect.poll(() => page.getByLabel("API key or admin token").isVisible()).toBe(true);
    await shot(page, "sign-in");
    await signIn(page, w.stack.url, w.tenant.key);
    expect(page.url()).toContain("#/jobs");
    // The key is in this tab's sessionStorage and nowhere else.
    const stored = await page.evaluate(() => ({ session: JSON.stringify(sessionStorage), local: localStorage.length }));
    expect(stored.session).toContain(w.tenant.key);
    expect(stored.local).toBe(0);

    w.comfy.setNodeDelay("KSampler", 3000);
    await page.getByRole("link", { name: "Run", exact: true }).click();
    await page.getByLabel(/Workflow \(API format/).fill(JSON.stringify(TXT2IMG));
    // Inputs detected from the graph: prompts as text areas, the sampler's numbers with their ranges.
    const prompt = page.getByRole("textbox", { name: "prompt", exact: true });
    await expect.poll(() => prompt.evaluate((e) => e.tagName)).toBe("TEXTAREA");
    expect(await prompt.inputValue()).toBe("a lighthouse at dusk");
    expect(await page.getByLabel("negative_prompt").inputValue()).toBe("blurry");
    expect(await page.getByRole("spinbutton", { name: "steps" }).getAttribute("max")).toBe("10000");
    await prompt.fill("a red lighthouse at dusk, film grain");
    await page.getByRole("spinbutton", { name: "seed" }).fill("1234");
    // An optional webhook: its URL and the events wanted (job.started left out, job.progress added).
    await page.getByText("Webhook (optional)").click();
    await page.getByLabel("Webhook URL").fill(w.receiver.url);
    expect(await page.getByRole("checkbox", { name: "job.started" }).isChecked()).toBe(true);
    expect(await page.getByRole("checkbox", { name: "job.progress" }).isChecked()).toBe(false);
    await page.getByRole("checkbox", { name: "job.started" }).uncheck();
    await page.getByRole("checkbox", { name: "job.progress" }).check();
    await recordProgress(page);
    await page.getByRole("button", { name: "Run", exact: true }).click();

    const output = page.locator(".run-result .gallery img");
    await output.waitFor({ timeout: 30_000 });
    await expect.poll(() => output.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
    const seen = await page.evaluate(() => (window as unknown as { seen: number[] }).seen);
    // The bar moved: at least two different values below the end, then the end.
    expect(new Set(seen.filter((v) => v > 0 && v < 12)).size).toBeGreaterThanOrEqual(2);
    expect(seen.at(-1)).toBe(12);
    // At least one live preview of the sampler, as an <img> of a JPEG data: URL, before the output appeared.
    const previews = await page.evaluate(
      () => (window as unknown as { previews: Array<{ tag: string; src: string; outputShown: boolean }> }).previews,
    );
    expect(previews.length).toBeGreaterThanOrEqual(1);
    expect(previews[0]).toEqual({
      tag: "IMG",
      src: expect.stringMatching(/^data:image\/jpeg;base64,/),
      outputShown: false,
    });
    const preview = page.locator(".run-result img.preview");
    expect(await preview.isVisible()).toBe(true);
    expect(await preview.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
    // What ComfyUI ran carries the form's values.
    const ran = w.comfy.prompts().at(-1)!.prompt as Record<string, { inputs: Record<string, unknown> }>;
    expect(ran["6"]!.inputs.text).toBe("a red lighthouse at dusk, film grain");
    expect(ran["3"]!.inputs.seed).toBe(1234);
    expect(await page.locator(".run-result .badge").first().textContent()).toBe("succeeded");
    await shot(page, "run");
    // The submitted job carried the webhook: its receiver gets the chosen events only.
    const runId = (await page.locator(".run-result a.mono").first().textContent()) ?? "";
    expect(runId).toMatch(/^job_/);
    const mine = (type: string) => w.receiver.received.filter((x) => x.json.type === type && x.json.data.id === runId);
    await w.receiver.waitFor(() => mine("job.succeeded").length > 0 && mine("job.progress").length > 0, 30_000);
    expect(mine("job.started")).toEqual([]);

    // The job in the list, then its page: timeline, outputs as <img>.
    await page.getByRole("link", { name: "Jobs" }).click();
    const first = page.locator("tbody tr").first();
    await first.waitFor();
    expect(await first.locator(".badge").textContent()).toBe("succeeded");
    await shot(page, "jobs");
    await first.locator("a").click();
    await page.locator(".timeline li[data-type='succeeded']").waitFor();
    await page.locator(".gallery img").waitFor();
    expect(await page.locator(".timeline li").allTextContents()).toEqual(
      expect.arrayContaining([expect.stringContaining("queued"), expect.stringContaining("started")]),
    );
    await shot(page, "job");
    w.comfy.clearFaults();
    expect(problems).toEqual([]);
    await context.close();
  });

  it("cancels a running job from the Run page", async () => {
    const { context, page, problems } = await w.open();
    await signIn(page, w.stack.url, w.tenant.key);
    w.comfy.setNodeDelay("KSampler", 60_000);
    await page.goto(`${w.stack.url}/console#/run`);
    await page.getByLabel(/Workflow \(API format/).fill(JSON.stringify(TXT2IMG));
    await page.getByRole("button", { name: "Run", exact: true }).click();
    const badge = page.locator(".run-result .toolbar .badge");
    await expect.poll(() => badge.textContent(), { timeout: 20_000 }).toBe("running");
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => badge.textContent(), { timeout: 20_000 }).toBe("canceled");
    const id = (await page.locator(".run-result .toolbar a.mono").textContent()) ?? "";
    expect(await jobStatus(id)).toBe("canceled");
    w.comfy.clearFaults();
    expect(problems).toEqual([]);
    await context.close();
  });

  it("opens a failed job and shows the node that failed", async () => {
    w.comfy.failNode("ImageInvert", { message: "out of memory on the test GPU" });
    const id = await submit({ workflow: TRIVIAL_WORKFLOW });
    await expect.poll(() => jobStatus(id), { timeout: 20_000 }).toBe("failed");
    w.comfy.clearFaults();
    const { context, page, problems } = await w.open();
    await signIn(page, w.stack.url, w.tenant.key);
    await page.goto(`${w.stack.url}/console#/jobs?status=failed`);
    await page.getByRole("link", { name: id }).click();
    const node = page.locator(".failure mark.node");
    await node.waitFor();
    expect(await node.textContent()).toBe("node 2 (ImageInvert)");
    expect(await page.locator(".failure").textContent()).toContain("out of memory on the test GPU");
    await shot(page, "job-failed");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows a queued job's place in its pool's queue and cancels it from its page", async () => {
    await w.stack.admin("/admin/v1/pools", { name: "idle" });
    const id = await submit({ workflow: TRIVIAL_WORKFLOW, pool: "idle" });
    const { context, page, problems } = await w.open();
    await signIn(page, w.stack.url, w.tenant.key);
    await page.goto(`${w.stack.url}/console#/jobs/${id}`);
    const place = page.locator(".facts div", { hasText: "Place in queue" }).locator("dd");
    await place.waitFor();
    expect(await place.textContent()).toBe("1");
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => jobStatus(id)).toBe("canceled");
    await expect.poll(() => page.locator(".toolbar .badge").first().textContent()).toBe("canceled");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("lists a job's webhook deliveries and redelivers one", async () => {
    const id = await submit({ workflow: TRIVIAL_WORKFLOW, webhook: { url: w.receiver.url } });
    await w.receiver.waitFor((r) => r.some((x) => x.json.type === "job.succeeded" && x.json.data.id === id), 30_000);
    const { context, page, problems } = await w.open();
    await signIn(page, w.stack.url, w.tenant.key);
    await page.goto(`${w.stack.url}/console#/jobs/${id}`);
    const row = page.locator("tr[data-delivery]", { hasText: "job.succeeded" });
    await expect.poll(() => row.locator(".badge").textContent(), { timeout: 20_000 }).toBe("delivered");
    const before = w.receiver.received.filter((x) => x.json.type === "job.succeeded" && x.json.data.id === id).length;
    await shot(page, "webhooks");
    await row.getByRole("button", { name: "Redeliver job.succeeded" }).click();
    await w.receiver.waitFor(
      (r) => r.filter((x) => x.json.type === "job.succeeded" && x.json.data.id === id).length > before,
      20_000,
    );
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows pools, usage and a streamed playground answer with its cache status", async () => {
    const { context, page, problems } = await w.open();
    await signIn(page, w.stack.url, w.tenant.key);
    await page.getByRole("link", { name: "Pools" }).click();
    await page.locator("table").waitFor();
    // Keyboard and screen-reader users land on the new page's heading.
    await expect.poll(() => page.evaluate(() => document.activeElement?.outerHTML)).toMatch(/^<h1[^>]*>Pools<\/h1>$/);
    expect(await page.locator("tbody tr", { hasText: "local" }).locator(".health").textContent()).toBe("1");
    // What the pool can run, from its runners' capability reports.
    const caps = (await (
      await fetch(`${w.stack.url}/v1/pools/local/capabilities`, {
        headers: { authorization: `Bearer ${w.tenant.key}` },
      })
    ).json()) as { node_classes: Record<string, unknown> };
    const count = page.locator("[data-count='node-classes']");
    await count.waitFor();
    expect(Number(await count.textContent())).toBe(Object.keys(caps.node_classes).length);
    expect(Number(await count.textContent())).toBeGreaterThan(100);
    // The pool's runners: the test runner by its label, live, with its version and slots from its leases.
    const detail = (await (
      await fetch(`${w.stack.url}/v1/pools/local`, { headers: { authorization: `Bearer ${w.tenant.key}` } })
    ).json()) as { runner_list: Array<{ runner_id: string; version: string; slots: number }> };
    const listed = detail.runner_list.find((r) => r.runner_id === "test-runner");
    expect(listed).toBeDefined();
    const runnerRow = page.getByRole("table", { name: "Runners of local" }).locator("tbody tr", {
      hasText: "test-runner",
    });
    await runnerRow.waitFor();
    const cells = await runnerRow.locator("td").allTextContents();
    expect(cells[0]).toBe("test-runner");
    expect(cells[1]).toBe(listed?.version);
    expect(cells[4]).toBe(String(listed?.slots));
    expect(cells[5]).toBe("live");
    const facts = page.locator("section[aria-labelledby='runners-local'] .facts");
    expect(await facts.locator("div", { hasText: "Queue depth" }).locator("dd").textContent()).toMatch(
      /^\d+ queued, \d+ running$/,
    );
    expect(await facts.locator("div", { hasText: "Wait estimate" }).locator("dd").textContent()).toMatch(
      /^(none \(a slot is free\)|about .+)$/,
    );
    await shot(page, "pools");

    await page.getByRole("link", { name: "Playground" }).click();
    await page.getByLabel("Model").fill("gpt-test");
    await page.getByLabel("Message").fill("Describe a lighthouse in five words.");
    await page.getByRole("button", { name: "Send" }).click();
    const meta = page.locator(".chat li.assistant small");
    await expect.poll(() => meta.textContent(), { timeout: 20_000 }).toMatch(/^cache: (MISS|BYPASS|HIT)/);
    expect((await page.locator(".chat li.assistant p").textContent())?.length).toBeGreaterThan(0);
    await shot(page, "playground");

    await page.getByRole("link", { name: "Usage" }).click();
    await page.locator("svg.chart").first().waitFor();
    await shot(page, "usage");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("works at phone width in dark mode", async () => {
    const { context, page, problems } = await w.open({ width: 390, dark: true });
    await page.goto(`${w.stack.url}/console`);
    await page.getByLabel("API key or admin token").fill("ce_sk_not-a-real-key");
    await page.getByLabel("API key or admin token").press("Enter");
    await expect.poll(() => page.getByRole("alert").first().textContent()).toBe("That key or token was not accepted.");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await signIn(page, w.stack.url, w.tenant.key);
    await page.locator("tbody tr").first().waitFor();
    // Nothing wider than the screen but the tables' own scroll boxes.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, "jobs-phone-dark");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("operator view: creates a key (shown once), revokes it, rotates a webhook secret", async () => {
    const { context, page, problems } = await w.open();
    await signIn(page, w.stack.url, w.stack.adminToken);
    expect(page.url()).toContain("#/admin");
    await page
      .getByRole("button", { name: (await w.stack.admin<{ name: string }>(`/admin/v1/tenants/${w.tenant.id}`)).name })
      .click();
    await page.getByLabel("Key name").fill("from-console");
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = page.locator("#new-secret");
    await secret.waitFor();
    const key = await secret.inputValue();
    expect(key).toMatch(/^ce_sk_/);
    const me = await fetch(`${w.stack.url}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    expect(me.status).toBe(200);
    await shot(page, "admin", [secret]);

    page.once("dialog", (d) => void d.accept());
    const prefix = key.slice(0, 10);
    const row = page.locator("tr", { hasText: "from-console" });
    await row.getByRole("button", { name: /^Revoke key/ }).click();
    await expect.poll(() => row.locator(".badge").textContent()).toMatch(/^revoked/);
    await expect
      .poll(async () => (await fetch(`${w.stack.url}/v1/me`, { headers: { authorization: `Bearer ${key}` } })).status)
      .toBe(401);
    expect(prefix).toMatch(/^ce_sk_/);

    // Webhook secret rotation: a new secret, shown once.
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Rotate webhook secret" }).click();
    await expect.poll(() => page.locator("#new-secret").inputValue()).toMatch(/^whsec_/);
    expect(await page.locator("#new-secret").inputValue()).not.toBe(w.tenant.webhook_secret);
    expect(problems).toEqual([]);
    await context.close();
  });
});
