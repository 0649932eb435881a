/**
 * Manual check against a real ComfyUI (default http://127.0.0.1:8188; COMFYUI_URL to change): the runner's
 * capability report from its /object_info, /models and /system_stats parses with the contract and is
 * accepted by the gateway; a submit naming a checkpoint the server does not have gets 422
 * model_not_available, one naming a checkpoint it has is queued. Not part of `npm test` (needs the server).
 *
 *   node test/capabilities/try-real-comfyui.ts
 */
import assert from "node:assert/strict";
import { readComfy } from "../../runner/src/capabilities.ts";
import { buildReport, reportDigest } from "../../workers/shared/capabilities/build.ts";
import { CapabilityReport } from "../../workers/shared/contract/runner.ts";
import { api, runnerToken, tenantWithKey } from "../harness/api.ts";
import { startStack } from "../harness/stack.ts";
import { txt2img } from "./fixtures.ts";
import { CapableRunner } from "./helpers.ts";

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

const stack = await startStack();
try {
  const runner = new CapableRunner(stack, await runnerToken(stack, "real"), "real-1", report);
  assert.equal(await runner.lease(0), null);
  const client = api(stack, (await tenantWithKey(stack)).key);
  const missing = await client("/v1/jobs", {
    body: { workflow: txt2img("not-on-this-server.safetensors"), pool: "real" },
  });
  console.log(missing.status, JSON.stringify(missing.json.error));
  assert.equal(missing.status, 422);
  assert.equal(missing.json.error.code, "model_not_available");
  assert.equal(missing.json.error.param, "workflow.4.inputs.ckpt_name");
  if (checkpoints[0]) {
    const ok = await client("/v1/jobs", { body: { workflow: txt2img(checkpoints[0]), pool: "real" } });
    console.log(ok.status, ok.json.status ?? JSON.stringify(ok.json.error));
    assert.equal(ok.status, 202);
  }
  console.log("ok");
} finally {
  await stack.close();
}
