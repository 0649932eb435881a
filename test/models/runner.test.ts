/**
 * Model assets end to end (docs/models.md): the real gateway stack (workerd, D1), the ComfyUI double, an
 * HTTPS model server with its own CA and the runner. A fresh runner downloads its pool's manifest, runs the
 * warmup (a failure keeps /readyz at 503 and no job leased), becomes ready and runs jobs; a model named by
 * URL is downloaded once for two jobs.
 */
import { createHash, randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../runner/src/config.ts";
import { urlModelFilename } from "../../runner/src/models/url-models.ts";
import { Runner } from "../../runner/src/runner.ts";
import { type ComfyDouble, startComfyDouble } from "../comfyui-double/index.ts";
import { testLogger } from "../e2e/helpers.ts";
import { api, runnerToken, TRIVIAL_WORKFLOW, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { txt2imgWorkflow } from "../harness/workflows.ts";
import { type ModelServer, startModelServer, testTransport } from "./model-server.ts";

/** A prompt as the ComfyUI double recorded it. */
type Prompt = Record<string, { inputs?: Record<string, unknown> } | undefined>;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const weights = randomBytes(256 * 1024);

let stack: Stack;
let server: ModelServer;
const cleanups: Array<() => Promise<unknown>> = [];
let seq = 0;

beforeAll(async () => {
  server = await startModelServer();
  server.files.set("/sd15.safetensors", weights);
  server.files.set("/lora.safetensors", weights.subarray(0, 1000));
  stack = await startStack({ vars: { ALLOW_PRIVATE_URLS: "true" } });
}, 60_000);
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
});
afterAll(async () => {
  await stack?.close();
  await server?.close();
});

async function admin(path: string, method: string, body?: unknown) {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: API answers read field by field in the assertions
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** Model files per folder as ComfyUI lists them: what is in `<dir>/<folder>` now (no hidden or .part files). */
function onDisk(dir: string): Record<string, string[]> {
  const list = (folder: string) => {
    try {
      return readdirSync(join(dir, folder)).filter((f) => !f.startsWith(".") && f.endsWith(".safetensors"));
    } catch {
      return [];
    }
  };
  return new Proxy({}, { get: (_t, folder) => (typeof folder === "string" ? list(folder) : undefined) });
}

async function setup(
  manifest: Record<string, unknown>,
  comfyModels: Record<string, string[]> | ((modelsDir: string) => Record<string, string[]>) = {},
  leaseWaitS = 2,
) {
  const pool = `models${++seq}`;
  const token = await runnerToken(stack, pool);
  expect((await admin(`/admin/v1/pools/${pool}/manifest`, "PUT", manifest)).status).toBe(200);
  const modelsDir = await mkdtemp(join(tmpdir(), "runner-models-"));
  cleanups.push(() => rm(modelsDir, { recursive: true, force: true }));
  const models = typeof comfyModels === "function" ? comfyModels(modelsDir) : comfyModels;
  const comfy: ComfyDouble = await startComfyDouble({ models });
  cleanups.push(() => comfy.close());
  const config = loadConfig({
    GATEWAY_URL: stack.url,
    RUNNER_TOKEN: token,
    COMFYUI_URL: comfy.url,
    RUNNER_ID: `runner-${pool}`,
    METRICS_PORT: "0",
    ALLOW_PRIVATE_URLS: "true",
    COMFYUI_MODELS_DIR: modelsDir,
  });
  const runner = await Runner.start({
    config,
    log: testLogger(),
    tuning: { leaseWaitS, historyPollMs: 200 },
    models: { transport: testTransport, pollMs: 300 },
  });
  cleanups.push(() => runner.close({ drainMs: 0 }));
  const readyz = async () => (await fetch(`http://127.0.0.1:${runner.port}/readyz`)).status;
  return { pool, comfy, runner, modelsDir, readyz };
}

describe("runner model assets", () => {
  it("downloads the manifest, holds jobs while the warmup fails, then warms up, becomes ready and runs them", async () => {
    const warmup = structuredClone(TRIVIAL_WORKFLOW);
    warmup["1"].inputs.color = 77;
    const entry = {
      url: server.url("/sd15.safetensors", "127.0.0.1"),
      folder: "checkpoints",
      filename: "sd15-manifest.safetensors",
      sha256: sha(weights),
      size: weights.length,
    };
    const s = await setup({ models: [entry], warmup: { workflow: warmup } });
    s.comfy.failNode("ImageInvert", { message: "warmup boom" });
    // The first warmup fails: not ready, nothing leased, the failure visible to the operator.
    await expect
      .poll(async () => (await admin(`/admin/v1/pools/${s.pool}/models`, "GET")).json.runners[0]?.warmup?.state, {
        timeout: 15_000,
      })
      .toBe("failed");
    expect(await s.readyz()).toBe(503);
    expect(await readFile(join(s.modelsDir, "checkpoints", "sd15-manifest.safetensors"))).toEqual(weights);
    const tenant = await tenantWithKey(stack);
    const call = api(stack, tenant.key);
    const job = await call("/v1/jobs", { body: { pool: s.pool, workflow: TRIVIAL_WORKFLOW } });
    expect(job.status).toBe(202);
    expect((await call(`/v1/jobs/${job.json.id}`)).json.status).toBe("queued");
    s.comfy.clearFaults();
    // An operator's re-sync runs the warmup again; it passes now.
    expect((await admin(`/admin/v1/pools/${s.pool}/manifest/resync`, "POST")).status).toBe(200);
    await expect.poll(() => s.readyz(), { timeout: 15_000 }).toBe(200);
    await expect
      .poll(async () => (await call(`/v1/jobs/${job.json.id}`)).json.status, { timeout: 20_000 })
      .toBe("succeeded");
    const view = async () => (await admin(`/admin/v1/pools/${s.pool}/models`, "GET")).json;
    await expect.poll(async () => (await view()).runners[0]?.state).toBe("ready");
    expect((await view()).runners[0]).toMatchObject({
      state: "ready",
      warmup: { state: "passed" },
      files: [
        { folder: "checkpoints", filename: "sd15-manifest.safetensors", state: "present", bytes: weights.length },
      ],
    });
    // Every prompt before the job's was a warmup (color 77): no job ran before a warmup passed.
    const colors = s.comfy.prompts().map((p) => (p.prompt as Prompt)["1"]?.inputs?.color);
    const jobAt = colors.indexOf(0);
    expect(colors.filter((c) => c === 0)).toHaveLength(1);
    expect(jobAt).toBeGreaterThanOrEqual(2); // at least one failed and one passed warmup first
    expect(colors.slice(0, jobAt).every((c) => c === 77)).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${s.runner.port}/metrics`)).text();
    expect(metrics).toMatch(/comfy_edge_runner_warmup_seconds \d/);
    expect(metrics).toMatch(/comfy_edge_runner_model_downloads_total\{source="manifest",outcome="ok"\} 1/);
  });

  it("downloads a model named by URL once for two jobs and gives ComfyUI the local name", async () => {
    const url = server.url("/lora.safetensors", "127.0.0.1");
    const local = urlModelFilename(url);
    const s = await setup({ models: [], url_models: { max_bytes: 1_000_000 } }, onDisk);
    const tenant = await tenantWithKey(stack);
    await admin(`/admin/v1/tenants/${tenant.id}/model-hosts`, "PUT", { hosts: ["127.0.0.1"] });
    const call = api(stack, tenant.key);
    const listed = async () =>
      ((await call(`/v1/pools/${s.pool}/capabilities`)).json.models?.checkpoints as string[] | undefined) ?? [];
    await expect.poll(async () => (await call(`/v1/pools/${s.pool}/capabilities`)).json.reported).toBe(true);
    expect(await listed()).not.toContain(local);
    const workflow = (color: number) => ({
      ...structuredClone(TRIVIAL_WORKFLOW),
      "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color } },
      "5": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: url } },
    });
    const before = server.requests.filter((r) => r.path === "/lora.safetensors").length;
    for (const color of [1, 2]) {
      const job = await call("/v1/jobs", { body: { pool: s.pool, workflow: workflow(color) } });
      expect(job.status, JSON.stringify(job.json)).toBe(202);
      await expect
        .poll(async () => (await call(`/v1/jobs/${job.json.id}`)).json.status, { timeout: 20_000 })
        .toBe("succeeded");
    }
    expect(server.requests.filter((r) => r.path === "/lora.safetensors").length - before).toBe(1);
    const sent = s.comfy.prompts().map((p) => (p.prompt as Prompt)["5"]?.inputs?.ckpt_name);
    expect(sent).toEqual([local, local]);
    expect(await readFile(join(s.modelsDir, "checkpoints", local))).toEqual(weights.subarray(0, 1000));
    // The downloaded file joins the runner's report (its next lease after the job carries it).
    await expect.poll(listed, { timeout: 15_000 }).toContain(local);
  });
});

describe("capabilities follow the model files", () => {
  it("a manifest file the runner downloads shows in the pool's capabilities without waiting for the report's refresh", async () => {
    const checkpoints: string[] = ["base.safetensors"];
    const s = await setup({ models: [] }, { checkpoints });
    const tenant = await tenantWithKey(stack);
    const call = api(stack, tenant.key);
    const listed = async () =>
      ((await call(`/v1/pools/${s.pool}/capabilities`)).json.models?.checkpoints as string[] | undefined) ?? [];
    await expect.poll(listed, { timeout: 15_000 }).toContain("base.safetensors");
    // ComfyUI lists the file as soon as it is in its folder (the double's list stands for that folder).
    checkpoints.push("added.safetensors");
    const entry = {
      url: server.url("/lora.safetensors", "127.0.0.1"),
      folder: "checkpoints",
      filename: "added.safetensors",
      sha256: sha(weights.subarray(0, 1000)),
    };
    expect((await admin(`/admin/v1/pools/${s.pool}/manifest`, "PUT", { models: [entry] })).status).toBe(200);
    await expect.poll(listed, { timeout: 15_000 }).toContain("added.safetensors");
  });
});

describe("capabilities are reported before the runner says ready", () => {
  it("after a manifest sync the pool lists the new file and a submit naming it is accepted at once", async () => {
    const first = { ...checkpoint("first.safetensors"), sha256: sha(weights), size: weights.length };
    const s = await setup({ models: [first] }, onDisk);
    const tenant = await tenantWithKey(stack);
    const call = api(stack, tenant.key);
    const listed = async () =>
      ((await call(`/v1/pools/${s.pool}/capabilities`)).json.models?.checkpoints as string[] | undefined) ?? [];
    const runnerView = async () => (await admin(`/admin/v1/pools/${s.pool}/models`, "GET")).json.runners[0];
    await expect.poll(async () => (await runnerView())?.state, { timeout: 15_000 }).toBe("ready");
    // Ready means the gateway already has the report with the manifest's file: no waiting here.
    expect(await listed()).toContain("first.safetensors");
    const workflow = (ckpt: string) => txt2imgWorkflow({ ckpt, width: 64, height: 64, steps: 1, seed: 3 });
    // A file no runner has is refused (and the submit path now holds the pool's union in its cache).
    const early = await call("/v1/jobs", { body: { pool: s.pool, workflow: workflow("second.safetensors") } });
    expect(early.status).toBe(422);
    expect(early.json.error).toMatchObject({ code: "model_not_available", param: "workflow.4.inputs.ckpt_name" });

    const second = { ...checkpoint("second.safetensors"), sha256: sha(weights.subarray(0, 1000)) };
    const put = await admin(`/admin/v1/pools/${s.pool}/manifest`, "PUT", { models: [first, second] });
    expect(put.status).toBe(200);
    await expect
      .poll(
        async () => {
          const r = await runnerView();
          return r?.manifest_digest === put.json.digest ? r.state : "old manifest";
        },
        { timeout: 20_000 },
      )
      .toBe("ready");
    // The moment the runner says ready with the new manifest: its file is in the pool's capabilities, and a
    // submit naming it is accepted (the cached union from the refusal above is not trusted for a refusal).
    expect(await listed()).toContain("second.safetensors");
    const job = await call("/v1/jobs", { body: { pool: s.pool, workflow: workflow("second.safetensors") } });
    expect(job.status, JSON.stringify(job.json)).toBe(202);
    await expect
      .poll(async () => (await call(`/v1/jobs/${job.json.id}`)).json.status, { timeout: 20_000 })
      .toBe("succeeded");
    const sent = s.comfy.prompts().map((p) => (p.prompt as Prompt)["4"]?.inputs?.ckpt_name);
    expect(sent).toEqual(["second.safetensors"]);
  });
});

function checkpoint(filename: string) {
  const path = filename === "first.safetensors" ? "/sd15.safetensors" : "/lora.safetensors";
  return { url: server.url(path, "127.0.0.1"), folder: "checkpoints", filename };
}
