/**
 * The shared fixture of the runner's integration tests: one gateway stack per file (short leases so expiry
 * and heartbeats are quick), a tenant, a test PNG, and per test its own pool, ComfyUI double and runner,
 * closed after the test.
 */
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { type ComfyDouble, type ComfyDoubleOptions, startComfyDouble } from "../comfyui-double/index.ts";
import { runnerToken, TRIVIAL_WORKFLOW } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { type Client, client, startTestRunner, type TestRunner } from "./helpers.ts";

export interface RunnerSetup {
  pool: string;
  comfy: ComfyDouble;
  runner: TestRunner;
  submit(body: Record<string, unknown>): Promise<string>;
}

export interface SetupOptions {
  double?: ComfyDoubleOptions;
  /** The runner's extra settings (a function: from the double, e.g. its folders). */
  env?: Record<string, string> | ((comfy: ComfyDouble) => Record<string, string>);
  tuning?: NonNullable<Parameters<typeof startTestRunner>[2]>["tuning"];
  comfyDownAtStart?: boolean;
}

export interface RunnerSuite {
  readonly stack: Stack;
  readonly tenant: Client;
  /** A 16x8 PNG (base64), for LoadImage inputs sent as data: URLs. */
  readonly png: string;
  /** Run after each test, last first. */
  readonly cleanups: Array<() => Promise<unknown>>;
  setup(options?: SetupOptions): Promise<RunnerSetup>;
  /** TRIVIAL_WORKFLOW with a fresh color, so ComfyUI's cache never skips its nodes. */
  freshWorkflow(): typeof TRIVIAL_WORKFLOW;
  download(jobId: string, index: number): Promise<{ type: string | null; bytes: Buffer }>;
}

export function useRunnerSuite(poolPrefix: string): RunnerSuite {
  let stack: Stack | undefined;
  let tenant: Client | undefined;
  let png = "";
  let poolSeq = 0;
  let color = 1;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    const sharp = (await import("sharp")).default;
    png = (
      await sharp({ create: { width: 16, height: 8, channels: 3, background: { r: 200, g: 30, b: 60 } } })
        .png()
        .toBuffer()
    ).toString("base64");
    stack = await startStack({ vars: { LEASE_DURATION_S: "3", DISPATCH_RESEND_S: "1" } });
    tenant = await client(stack);
  }, 60_000);
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
  });
  afterAll(() => stack?.close());

  const suite: RunnerSuite = {
    get stack() {
      if (!stack) throw new Error("the stack is not up");
      return stack;
    },
    get tenant() {
      if (!tenant) throw new Error("the stack is not up");
      return tenant;
    },
    get png() {
      return png;
    },
    cleanups,
    async setup(options = {}) {
      const pool = `${poolPrefix}${++poolSeq}`;
      const comfy = await startComfyDouble(options.double);
      cleanups.push(() => comfy.close());
      if (options.comfyDownAtStart) await comfy.die();
      const token = await runnerToken(suite.stack, pool);
      const runner = await startTestRunner(suite.stack, [comfy.url], {
        token,
        env: typeof options.env === "function" ? options.env(comfy) : options.env,
        tuning: { historyPollMs: 500, cancelConfirmMs: 10_000, unreachableGraceMs: 3_000, ...options.tuning },
      });
      cleanups.push(() => runner.close());
      return {
        pool,
        comfy,
        runner,
        async submit(body) {
          const res = await suite.tenant.call("/v1/jobs", { body: { pool, ...body } });
          expect(res.status, JSON.stringify(res.json)).toBe(202);
          return res.json.id as string;
        },
      };
    },
    freshWorkflow() {
      const workflow = structuredClone(TRIVIAL_WORKFLOW);
      workflow["1"].inputs.color = color++;
      return workflow;
    },
    async download(jobId, index) {
      const res = await fetch(`${suite.stack.url}/v1/jobs/${jobId}/outputs/${index}`, {
        headers: { authorization: `Bearer ${suite.tenant.key}` },
      });
      expect(res.status).toBe(200);
      return { type: res.headers.get("content-type"), bytes: Buffer.from(await res.arrayBuffer()) };
    },
  };
  return suite;
}
