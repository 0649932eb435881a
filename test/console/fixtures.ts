/**
 * The console under test: the local stack (gateway + queue consumer on workerd), the ComfyUI double with a
 * runner, an LLM upstream double, a webhook receiver, and Debian Chromium driven by playwright-core.
 */
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { type ComfyDouble, startComfyDouble } from "../comfyui-double/index.ts";
import { startTestRunner, type TestRunner } from "../e2e/helpers.ts";
import { type Tenant, tenantWithKey } from "../harness/api.ts";
import { ROOT } from "../harness/build.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { txt2imgWorkflow } from "../harness/workflows.ts";
import { startUpstreamDouble, type UpstreamDouble } from "../llm/upstream-double.ts";
import { type Receiver, startReceiver } from "../webhooks/receiver.ts";
import { fullObjectInfoProxy } from "./full-object-info.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SHOTS = join(ROOT, "docs", "console");

/** An SD1.5 text-to-image graph in API format (the double runs KSampler's steps and writes a 64x64 image). */
export const TXT2IMG = txt2imgWorkflow({ prompt: "a lighthouse at dusk", seed: 42, steps: 12, prefix: "console" });

export interface ConsoleWorld {
  stack: Stack;
  comfy: ComfyDouble;
  runner: TestRunner;
  llm: UpstreamDouble;
  receiver: Receiver;
  tenant: Tenant;
  browser: Browser;
  /**
   * A fresh browser context (its own sessionStorage) and page at `width` x 900, light or dark; `problems`
   * collects page errors and CSP violations (the console must cause none).
   */
  open(options?: {
    width?: number;
    dark?: boolean;
  }): Promise<{ context: BrowserContext; page: Page; problems: string[] }>;
  close(): Promise<void>;
}

export async function startConsoleWorld(): Promise<ConsoleWorld> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: run 'npm test' (it installs it) or set CHROMIUM_PATH`);
  const llm = await startUpstreamDouble({ name: "primary", models: ["gpt-test"] });
  const [stack, comfy, receiver] = await Promise.all([
    startStack({
      vars: {
        ALLOW_PRIVATE_URLS: "true",
        ALLOW_HTTP_URLS: "true",
        LLM_UPSTREAM_URL: llm.url,
      },
    }),
    startComfyDouble({ models: { checkpoints: ["sd15.safetensors", "v1-5-pruned-emaonly-fp16.safetensors"] } }),
    startReceiver(),
  ]);
  // The runner sees ComfyUI 0.33's whole /object_info (see full-object-info.ts), as on a real GPU host.
  const proxy = await fullObjectInfoProxy(comfy.url);
  const runner = await startTestRunner(stack, [proxy.url]);
  const tenant = await tenantWithKey(stack);
  const browser = await chromium.launch({
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
  const open = async (options: { width?: number; dark?: boolean } = {}) => {
    const context = await browser.newContext({
      viewport: { width: options.width ?? 1280, height: 900 },
      colorScheme: options.dark ? "dark" : "light",
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      // A CSP violation is reported on the console: the console must cause none.
      if (m.type() === "error" && /Content Security Policy/i.test(m.text())) problems.push(m.text());
    });
    return { context, page, problems };
  };
  return {
    stack,
    comfy,
    runner,
    llm,
    receiver,
    tenant,
    browser,
    open,
    async close() {
      await browser?.close();
      await runner?.close();
      await proxy?.close();
      await Promise.all([comfy?.close(), receiver?.close(), llm?.close()]);
      await stack?.close();
    },
  };
}

/** Signs in on /console with a key or token and waits for the first page of that view. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/console`);
  await page.getByLabel("API key or admin token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#view h1").first().waitFor();
}

/**
 * A screenshot of the page. The committed ones in docs/console/ are refreshed only with
 * CONSOLE_SCREENSHOTS=1 (so a test run leaves the work tree as it was); otherwise the picture is still
 * taken, which checks the page renders, and kept in the OS temp folder.
 */
export async function shot(page: Page, name: string, mask: Locator[] = []): Promise<void> {
  const dir = process.env.CONSOLE_SCREENSHOTS === "1" ? SHOTS : join(tmpdir(), "comfy-edge-console-shots");
  mkdirSync(dir, { recursive: true });
  // `mask` paints over secrets (a key shown once) so committed pictures never carry one.
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true, mask, maskColor: "#9aa0a6" });
}
