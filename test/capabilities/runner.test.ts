/**
 * The real runner publishes its ComfyUI's capabilities (here the ComfyUI double, which serves /object_info,
 * /models and /models/<folder>): lease with a digest, 409, PUT, lease again. Then the pool's capabilities
 * list the double's classes and checkpoints, a submit naming a checkpoint the double lacks gets 422, and
 * one it has runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComfyDouble, startComfyDouble } from "../comfyui-double/index.ts";
import { startTestRunner, type TestRunner } from "../e2e/helpers.ts";
import { api, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";

describe("the runner's capability report", () => {
  let stack: Stack;
  let comfy: ComfyDouble;
  let runner: TestRunner;
  beforeAll(async () => {
    stack = await startStack();
    comfy = await startComfyDouble({ models: { checkpoints: ["sd15.safetensors"] } });
    runner = await startTestRunner(stack, [comfy.url], { pool: "caps-runner" });
  }, 60_000);
  afterAll(async () => {
    await runner?.close();
    await comfy?.close();
    await stack?.close();
  });

  it("reaches the pool, and submits are checked against it", async () => {
    const client = api(stack, (await tenantWithKey(stack)).key);
    await expect
      .poll(async () => (await client("/v1/pools/caps-runner/capabilities")).json, { timeout: 20_000 })
      .toMatchObject({ reported: true, runners: 1 });
    const view = (await client("/v1/pools/caps-runner/capabilities")).json;
    expect(view.models.checkpoints).toEqual(["sd15.safetensors"]);
    expect(view.node_classes.CheckpointLoaderSimple.inputs.ckpt_name).toEqual({
      type: "COMBO",
      folder: "checkpoints",
    });
    const graph = (ckpt: string) => ({
      "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: ckpt } },
      "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
      "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "caps" } },
    });
    const missing = await client("/v1/jobs", { body: { workflow: graph("sdxl.safetensors"), pool: "caps-runner" } });
    expect(missing.status).toBe(422);
    expect(missing.json.error).toMatchObject({ code: "model_not_available", param: "workflow.4.inputs.ckpt_name" });
    const ok = await client("/v1/jobs", {
      body: { workflow: graph("sd15.safetensors"), pool: "caps-runner" },
      headers: { Prefer: "wait=20" },
    });
    expect(ok.json.error ?? null).toBeNull();
    expect(ok.json.status).toBe("succeeded");
  });
});
