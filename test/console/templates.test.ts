/**
 * The console's Run page with a template (issue 15): the template list by name, a form generated from the
 * template's JSON Schema (prompt as <textarea>, numbers with the template's ranges, seed with Randomize), and
 * a run by name that ends with the output image.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../harness/build.ts";
import { type ConsoleWorld, shot, signIn, startConsoleWorld, TXT2IMG } from "./fixtures.ts";

describe("web console: templates", () => {
  let w: ConsoleWorld;
  beforeAll(async () => {
    w = await startConsoleWorld();
    const res = await fetch(`${w.stack.url}/v1/templates`, {
      method: "POST",
      headers: { authorization: `Bearer ${w.tenant.key}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "sd15-t2i", description: "SD1.5 text to image", workflow: TXT2IMG }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });

  it("picks a template by name, fills its generated form and runs it", async () => {
    const { context, page, problems } = await w.open();
    await signIn(page, w.stack.url, w.tenant.key);
    await page.goto(`${w.stack.url}/console#/run`);
    const picker = page.getByLabel("Template");
    await picker.waitFor();
    expect(await picker.locator("option").allTextContents()).toContain("sd15-t2i — SD1.5 text to image");
    await picker.selectOption("sd15-t2i");
    const prompt = page.getByRole("textbox", { name: "prompt", exact: true });
    await prompt.waitFor();
    expect(await prompt.evaluate((e) => e.tagName)).toBe("TEXTAREA");
    expect(await prompt.inputValue()).toBe("a lighthouse at dusk");
    // The ranges come from the template's schema (ComfyUI's input specs), not from the browser.
    const schema = (await (
      await fetch(`${w.stack.url}/v1/templates/sd15-t2i`, { headers: { authorization: `Bearer ${w.tenant.key}` } })
    ).json()) as { input_schema: { properties: Record<string, { minimum?: number; maximum?: number }> } };
    const steps = page.getByRole("spinbutton", { name: "steps", exact: true });
    expect(await steps.getAttribute("max")).toBe(String(schema.input_schema.properties.steps?.maximum));
    expect(await steps.getAttribute("min")).toBe(String(schema.input_schema.properties.steps?.minimum));
    const seed = page.getByRole("spinbutton", { name: "seed", exact: true });
    const before = await seed.inputValue();
    await page.getByRole("button", { name: "Randomize" }).click();
    // A new whole number (no sign) within the seed's schema maximum replaced the template's default.
    const drawn = await seed.inputValue();
    expect(drawn).toMatch(/^\d+$/);
    expect(drawn).not.toBe(before);
    expect(Number(drawn)).toBeLessThanOrEqual(schema.input_schema.properties.seed?.maximum ?? Number.MAX_SAFE_INTEGER);
    await seed.fill("77");
    await prompt.fill("a blue lighthouse");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    const output = page.locator(".run-result .gallery img");
    await output.waitFor({ timeout: 30_000 });
    await expect.poll(() => output.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
    const ran = w.comfy.prompts().at(-1)!.prompt as Record<string, { inputs: Record<string, unknown> }>;
    expect(ran["6"]!.inputs.text).toBe("a blue lighthouse");
    expect(ran["3"]!.inputs.seed).toBe(77);
    await shot(page, "run-template");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("saves a pasted UI-format workflow as a template and runs it by name", async () => {
    const ui = readFileSync(join(ROOT, "test/fixtures/workflows/sd15-txt2img.ui.json"), "utf8");
    const { context, page, problems } = await w.open();
    await signIn(page, w.stack.url, w.tenant.key);
    await page.goto(`${w.stack.url}/console#/run`);
    await page.getByLabel(/Workflow \(API format/).fill(ui);
    await page.getByText("This is the UI format").waitFor();
    await page.getByLabel("Template name").fill("sd15-ui");
    await page.getByRole("button", { name: "Save as template" }).click();
    await expect.poll(() => page.url()).toContain("#/run?template=sd15-ui");
    await expect.poll(() => page.getByLabel("Template").inputValue()).toBe("sd15-ui");
    const prompt = page.getByRole("textbox", { name: "prompt", exact: true });
    await prompt.waitFor();
    await prompt.fill("a watercolor fox");
    // A fixed seed (the UI file's default is -1, "randomize").
    await page.getByRole("spinbutton", { name: "seed", exact: true }).fill("5");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await page.locator(".run-result .gallery img").waitFor({ timeout: 30_000 });
    const ran = Object.values(
      w.comfy.prompts().at(-1)!.prompt as Record<string, { class_type: string; inputs: Record<string, unknown> }>,
    );
    expect(ran.map((n) => n.inputs.text)).toContain("a watercolor fox");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("takes an image input from a file dropped on the form (as a data: URL) and runs with it", async () => {
    const workflow = {
      "1": { class_type: "LoadImage", inputs: { image: "example.png" } },
      "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
      "9": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "inverted" } },
    };
    const created = await fetch(`${w.stack.url}/v1/templates`, {
      method: "POST",
      headers: { authorization: `Bearer ${w.tenant.key}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "invert", workflow }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#ff0000" } })
      .png()
      .toBuffer();
    const uploadsBefore = w.comfy.uploads().length;
    const { context, page, problems } = await w.open();
    await signIn(page, w.stack.url, w.tenant.key);
    await page.goto(`${w.stack.url}/console#/run?template=invert`);
    await page
      .getByLabel("Choose an image file for image")
      .setInputFiles({ name: "red.png", mimeType: "image/png", buffer: png });
    const field = page.getByRole("textbox", { name: "image", exact: true });
    await expect.poll(() => field.inputValue()).toMatch(/^data:image\/png;base64,/);
    await page.locator(".drop-preview").waitFor();
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await page.locator(".run-result .gallery img").waitFor({ timeout: 30_000 });
    // ComfyUI received the dropped bytes and inverted them.
    const uploaded = w.comfy.uploads().slice(uploadsBefore);
    expect(uploaded.some((u) => Buffer.from(u.bytes).equals(png))).toBe(true);
    await shot(page, "run-image-input");
    expect(problems).toEqual([]);
    await context.close();
  });
});
