/**
 * Manual check against a real ComfyUI (default http://127.0.0.1:8188; COMFYUI_URL to change): the runner's
 * capability report from its /object_info, /models and /system_stats parses with the contract; the real
 * runner publishes it to the gateway; a submit naming a checkpoint the server does not have gets 422
 * model_not_available, one naming a checkpoint it has passes the check, and a small job runs on the real
 * server. Not part of `npm test` (needs the server).
 *
 *   node test/capabilities/try-real-comfyui.ts
 *   POOL_SHARDS=2 node test/capabilities/try-real-comfyui.ts   (the pool served by 2 shards, docs/capabilities.md §7)
 */
import assert from "node:assert/strict";
import { buildReport, reportDigest } from "@comfy-edge/shared/capabilities/build";
import { CapabilityReport } from "@comfy-edge/shared/contract/runner";
import { readComfy } from "../../runner/src/capabilities.ts";
import { startTestRunner } from "../e2e/helpers.ts";
import { api, tenantWithKey } from "../harness/api.ts";
import { startStack } from "../harness/stack.ts";
import { txt2img } from "./fixtures.ts";

const comfyUrl = process.env.COMFYUI_URL ?? "http://127.0.0.1:8188";
const readings = await readComfy(comfyUrl, AbortSignal.timeout(60_000));
const report = buildReport({ ...readings, slots: 1 });
assert.ok(CapabilityReport.safeParse(report).success, "the report parses with the contract");
const checkpoints = report.models.checkpoints ?? [];
console.log(
  JSON.stringify({
    comfyui_version: report.comfyui_version,
    node_classes: Object.keys(report.node_classes).length,
    model_folders: Object.keys(report.models).length,
    checkpoints,
    gpu: report.gpu,
    digest: await reportDigest(report),
    bytes: JSON.stringify(report).length,
  }),
);
assert.ok(!JSON.stringify(report).includes("/root/"), "no host paths");

const shards = Number(process.env.POOL_SHARDS ?? "1");
const stack = await startStack();
try {
  if (shards > 1) await stack.admin("/admin/v1/pools", { name: "real", shards });
  const runner = await startTestRunner(stack, [comfyUrl], { pool: "real" });
  const client = api(stack, (await tenantWithKey(stack)).key);
  for (let i = 0; ; i++) {
    const view = (await client("/v1/pools/real/capabilities")).json;
    if (view.reported) {
      console.log("published:", view.runners, "runner(s),", Object.keys(view.node_classes).length, "classes visible");
      break;
    }
    if (i > 100) throw new Error("the runner did not publish its capabilities");
    await new Promise((r) => setTimeout(r, 200));
  }
  const missing = await client("/v1/jobs", {
    body: { workflow: txt2img("not-on-this-server.safetensors"), pool: "real" },
  });
  console.log(missing.status, JSON.stringify(missing.json.error));
  assert.equal(missing.status, 422);
  assert.equal(missing.json.error.code, "model_not_available");
  assert.equal(missing.json.error.param, "workflow.4.inputs.ckpt_name");
  if (checkpoints[0]) {
    // Passes the check; canceled before it costs the shared server a diffusion run.
    const ok = await client("/v1/jobs", { body: { workflow: txt2img(checkpoints[0]), pool: "real" } });
    console.log(ok.status, ok.json.status ?? JSON.stringify(ok.json.error));
    assert.ok(ok.status === 202 || ok.status === 200);
    await client(`/v1/jobs/${ok.json.id}/cancel`, { method: "POST" });
  }
  const small = {
    "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 1234 } },
    "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "caps-check" } },
  };
  // Several small jobs (no sampler): on a sharded pool they land on both shards, the runner leases from each.
  for (let i = 0; i < (shards > 1 ? 4 : 1); i++) {
    const run = await client("/v1/jobs", { body: { workflow: small, pool: "real" }, headers: { Prefer: "wait=60" } });
    console.log("small job:", run.json.id, run.json.status, run.json.error?.code ?? "");
    assert.equal(run.json.status, "succeeded");
  }
  const pool = (await client("/v1/pools/real")).json;
  console.log("pool:", JSON.stringify({ runners: pool.runners, queued: pool.queued, running: pool.running }));
  await runner.close();
  console.log("ok");
} finally {
  await stack.close();
}
