/**
 * Manual check against the real ComfyUI (default http://127.0.0.1:8188, models in
 * $HOME/comfy-harness/ComfyUI/models; COMFYUI_URL / COMFYUI_MODELS_DIR to change): the harness's random-weight
 * SD1.5 checkpoint is served by a local HTTPS model server with its own CA; a pool manifest names it under a
 * NEW file name; a fresh runner downloads it into ComfyUI's checkpoints folder (verified by SHA-256), becomes
 * ready, and a KSampler job that loads it succeeds. The downloaded file is removed at the end. Not part of
 * `npm test` (needs the server).
 *
 *   node test/models/try-real-comfyui.ts
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../runner/src/config.ts";
import { Runner } from "../../runner/src/runner.ts";
import { api, runnerToken, tenantWithKey } from "../harness/api.ts";
import { startStack } from "../harness/stack.ts";
import { txt2imgWorkflow } from "../harness/workflows.ts";
import { startModelServer, testTransport } from "./model-server.ts";

const comfyUrl = process.env.COMFYUI_URL ?? "http://127.0.0.1:8188";
const modelsDir = process.env.COMFYUI_MODELS_DIR ?? join(homedir(), "comfy-harness", "ComfyUI", "models");
const source = join(modelsDir, "checkpoints", "tiny-random-sd15-small.safetensors");
const served = await mkdtemp(join(tmpdir(), "model-server-"));
await copyFile(source, join(served, "sd15.safetensors"));
const bytes = await readFile(join(served, "sd15.safetensors"));
const filename = `comfy-edge-models-${randomBytes(4).toString("hex")}.safetensors`;
const dest = join(modelsDir, "checkpoints", filename);

const server = await startModelServer();
server.files.set("/sd15.safetensors", bytes);
const stack = await startStack({ vars: { ALLOW_PRIVATE_URLS: "true" } });
let runner: Runner | null = null;
try {
  const token = await runnerToken(stack, "real-models");
  const manifest = {
    models: [
      {
        url: server.url("/sd15.safetensors", "127.0.0.1"),
        folder: "checkpoints",
        filename,
        sha256: createHash("sha256").update(bytes).digest("hex"),
        size: bytes.length,
      },
    ],
  };
  const put = await fetch(`${stack.url}/admin/v1/pools/real-models/manifest`, {
    method: "PUT",
    headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(manifest),
  });
  assert.equal(put.status, 200);
  const started = performance.now();
  runner = await Runner.start({
    config: loadConfig({
      GATEWAY_URL: stack.url,
      RUNNER_TOKEN: token,
      COMFYUI_URL: comfyUrl,
      RUNNER_ID: "real-models",
      METRICS_PORT: "0",
      ALLOW_PRIVATE_URLS: "true",
      COMFYUI_MODELS_DIR: modelsDir,
    }),
    models: { transport: testTransport, pollMs: 1_000 },
  });
  const live = runner;
  for (let i = 0; !live.models?.manager.ready; i++) {
    if (i > 600) throw new Error(`not ready: ${JSON.stringify(live.models?.manager.report())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(
    `downloaded ${bytes.length} bytes to checkpoints/${filename} and ready in ${Math.round(performance.now() - started)} ms`,
  );
  assert.deepEqual(await readFile(dest), bytes);
  const client = api(stack, (await tenantWithKey(stack)).key);
  const workflow = txt2imgWorkflow({
    ckpt: filename,
    width: 64,
    height: 64,
    seed: 7,
    steps: 2,
    prefix: "models-check",
  });
  const job = await client("/v1/jobs", { body: { workflow, pool: "real-models" } });
  console.log("submit:", job.status, JSON.stringify(job.json.error ?? job.json.status));
  assert.equal(job.status, 202);
  let status = "";
  for (let i = 0; i < 1200 && !["succeeded", "failed", "canceled"].includes(status); i++) {
    await new Promise((r) => setTimeout(r, 250));
    const got = await client(`/v1/jobs/${job.json.id}`);
    status = got.json.status;
    if (status === "failed") console.log(JSON.stringify(got.json.error));
  }
  console.log("job:", status);
  assert.equal(status, "succeeded");
} finally {
  await runner?.close({ drainMs: 0 });
  await rm(dest, { force: true });
  await rm(join(modelsDir, ".comfy-edge"), { recursive: true, force: true });
  await rm(served, { recursive: true, force: true });
  await stack.close();
  await server.close();
}
