/**
 * Operator trial against the real ComfyUI (default http://127.0.0.1:8188, models in
 * $HOME/comfy-harness/ComfyUI/models; COMFYUI_URL / COMFYUI_MODELS_DIR to change). A local HTTPS model server
 * with its own CA serves the harness's random-weight SD1.5 checkpoint twice (two paths):
 *
 * 1. a pool manifest names it under a NEW file name, with a KSampler warmup that loads it; a fresh runner
 *    downloads it into ComfyUI's checkpoints folder (SHA-256 verified), warms up, and says ready only once
 *    the pool's capabilities list the file; a KSampler job with it succeeds;
 * 2. two KSampler jobs name the other path by URL: the runner downloads it once and reuses it.
 *
 * Prints the times. The downloaded files are removed at the end (and the model index put back as it was).
 * Not part of `npm test` (needs the server).
 *
 *   node test/models/try-real-comfyui.ts
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { cp, readFile, rm, stat } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../runner/src/config.ts";
import { createLogger } from "../../runner/src/log.ts";
import { urlModelFilename } from "../../runner/src/models/url-models.ts";
import { Runner } from "../../runner/src/runner.ts";
import { api, runnerToken, tenantWithKey } from "../harness/api.ts";
import { startStack } from "../harness/stack.ts";
import { txt2imgWorkflow } from "../harness/workflows.ts";
import { startModelServer, testTransport } from "./model-server.ts";

const comfyUrl = process.env.COMFYUI_URL ?? "http://127.0.0.1:8188";
const modelsDir = process.env.COMFYUI_MODELS_DIR ?? join(homedir(), "comfy-harness", "ComfyUI", "models");
const bytes = await readFile(join(modelsDir, "checkpoints", "tiny-random-sd15.safetensors"));
const sha256 = createHash("sha256").update(bytes).digest("hex");
const tag = randomBytes(4).toString("hex");
const manifestName = `comfy-edge-trial-${tag}.safetensors`;
const indexDir = join(modelsDir, ".comfy-edge");
const savedIndex = join(tmpdir(), `comfy-edge-index-${tag}`);
const hadIndex = await stat(indexDir).then(
  () => true,
  () => false,
);
if (hadIndex) await cp(indexDir, savedIndex, { recursive: true });

const t0 = performance.now();
const ms = (from = t0) => Math.round(performance.now() - from);
const say = (line: string) => console.log(`[${String(ms()).padStart(7)} ms] ${line}`);

const server = await startModelServer();
server.files.set("/manifest/sd15.safetensors", bytes);
server.files.set(`/byurl/sd15-${tag}.safetensors`, bytes);
const modelUrl = server.url(`/byurl/sd15-${tag}.safetensors`, "127.0.0.1");
const urlFile = urlModelFilename(modelUrl);
const stack = await startStack({ vars: { ALLOW_PRIVATE_URLS: "true" } });
let runner: Runner | null = null;
try {
  const pool = "real-models";
  const token = await runnerToken(stack, pool);
  const warmup = txt2imgWorkflow({ ckpt: manifestName, width: 64, height: 64, seed: 1, steps: 1, prefix: "warmup" });
  await stack.admin(
    `/admin/v1/pools/${pool}/manifest`,
    {
      models: [
        {
          url: server.url("/manifest/sd15.safetensors", "127.0.0.1"),
          folder: "checkpoints",
          filename: manifestName,
          sha256,
          size: bytes.length,
        },
      ],
      warmup: { workflow: warmup },
      url_models: { max_bytes: 2 * 1024 ** 3 },
    },
    "PUT",
  );
  const tenant = await tenantWithKey(stack);
  await stack.admin(`/admin/v1/tenants/${tenant.id}/model-hosts`, { hosts: ["127.0.0.1"] }, "PUT");
  const client = api(stack, tenant.key);
  say(`stack up; pool manifest: checkpoints/${manifestName} (${(bytes.length / 1e6).toFixed(1)} MB), KSampler warmup`);

  const started = performance.now();
  const lines: string[] = [];
  runner = await Runner.start({
    config: loadConfig({
      GATEWAY_URL: stack.url,
      RUNNER_TOKEN: token,
      COMFYUI_URL: comfyUrl,
      RUNNER_ID: `trial-${tag}`,
      METRICS_PORT: "0",
      ALLOW_PRIVATE_URLS: "true",
      COMFYUI_MODELS_DIR: modelsDir,
    }),
    log: createLogger({ level: "info", write: (line) => void lines.push(line) }),
    models: { transport: testTransport, pollMs: 1_000 },
  });
  const live = runner;
  const seen = new Set<string>();
  let presentAt = 0;
  for (let i = 0; !live.models?.manager.ready; i++) {
    if (i > 3_000) throw new Error(`not ready: ${JSON.stringify(live.models?.manager.report())}`);
    const report = live.models!.manager.report();
    if (!seen.has(report.state)) {
      seen.add(report.state);
      say(`runner state ${report.state}`);
    }
    if (!presentAt && report.files[0]?.state === "present") presentAt = ms(started);
    await new Promise((r) => setTimeout(r, 50));
  }
  const report = live.models!.manager.report();
  say(
    `runner ready ${ms(started)} ms after start: downloaded and verified at ~${presentAt} ms, warmup ${report.warmup.state} in ${report.warmup.seconds?.toFixed(1)} s`,
  );
  assert.deepEqual(await readFile(join(modelsDir, "checkpoints", manifestName)), bytes);
  const caps = await client(`/v1/pools/${pool}/capabilities`);
  const listed = (caps.json.models?.checkpoints ?? []) as string[];
  say(`at ready, the pool's capabilities list ${manifestName}: ${listed.includes(manifestName)}`);
  assert.ok(listed.includes(manifestName));

  async function run(label: string, ckpt: string, seed: number): Promise<void> {
    const at = performance.now();
    const workflow = txt2imgWorkflow({ ckpt, width: 64, height: 64, seed, steps: 2, prefix: `trial-${label}` });
    const job = await client("/v1/jobs", { body: { workflow, pool } });
    assert.equal(job.status, 202, JSON.stringify(job.json));
    let status = "";
    let last: Record<string, unknown> = {};
    for (let i = 0; i < 2400 && !["succeeded", "failed", "canceled"].includes(status); i++) {
      await new Promise((r) => setTimeout(r, 250));
      last = (await client(`/v1/jobs/${job.json.id}`)).json;
      status = String(last.status);
    }
    say(`${label}: ${job.json.id} ${status} in ${ms(at)} ms (submit 202 -> terminal)`);
    assert.equal(status, "succeeded", JSON.stringify(last.error));
  }

  await run("manifest checkpoint job", manifestName, 7);
  const downloads = () => server.requests.filter((r) => r.path.startsWith("/byurl/")).length;
  await run("URL model job 1 (downloads)", modelUrl, 8);
  await run("URL model job 2 (reuses)", modelUrl, 9);
  say(`model server GETs of the URL model: ${downloads()}; cached as checkpoints/${urlFile}`);
  assert.equal(downloads(), 1);
  assert.equal((await stat(join(modelsDir, "checkpoints", urlFile))).size, bytes.length);
  const metrics = await (await fetch(`http://127.0.0.1:${live.port}/metrics`)).text();
  for (const line of metrics.split("\n")) {
    if (/^comfy_edge_runner_(model_downloads_total|warmup_seconds|jobs_total)/.test(line)) say(`metric ${line}`);
  }
  const noteworthy = lines.filter((l) => /"level":"(warn|error)"/.test(l));
  say(`runner log: ${lines.length} lines, ${noteworthy.length} warn/error`);
  for (const l of noteworthy.slice(0, 10)) console.log(`  ${l.trim().slice(0, 300)}`);
} finally {
  await runner?.close({ drainMs: 0 });
  await rm(join(modelsDir, "checkpoints", manifestName), { force: true });
  await rm(join(modelsDir, "checkpoints", `${manifestName}.part`), { force: true });
  await rm(join(modelsDir, "checkpoints", urlFile), { force: true });
  await rm(join(modelsDir, "checkpoints", `${urlFile}.part`), { force: true });
  await rm(indexDir, { recursive: true, force: true });
  if (hadIndex) await cp(savedIndex, indexDir, { recursive: true });
  await rm(savedIndex, { recursive: true, force: true });
  await stack.close();
  await server.close();
}
