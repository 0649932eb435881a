/**
 * Manual check of the runner against a real ComfyUI (not part of npm test): the gateway stack on workerd,
 * one runner with COMFYUI_DIR, and a ComfyUI at COMFYUI_URL (default http://127.0.0.1:8188) whose folder is
 * COMFYUI_DIR (default $HOME/comfy-harness/ComfyUI, the CPU harness of ../shared/comfyui-harness).
 *
 *   node runner/scripts/try-real-comfyui.ts            # CKPT=tiny-random-sd15-small.safetensors for KSampler
 *
 * Prints what each scenario saw: inputs/outputs removed from ComfyUI's folders, the client's prefix kept,
 * a saver without filename_prefix, an execution error as the tenant sees it, seeds chosen for -1 and
 * reported, and cancel latency (cancel request -> ComfyUI interrupted -> job canceled).
 */
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import type { RunnerEvent } from "@comfy-edge/shared/contract/runner";
import { client, finished, startTestRunner } from "../../test/e2e/helpers.ts";
import { runnerToken } from "../../test/harness/api.ts";
import { startStack } from "../../test/harness/stack.ts";
import { txt2imgWorkflow } from "../../test/harness/workflows.ts";

const COMFY = process.env.COMFYUI_URL ?? "http://127.0.0.1:8188";
const DIR = process.env.COMFYUI_DIR ?? join(homedir(), "comfy-harness", "ComfyUI");
const CKPT = process.env.CKPT ?? "tiny-random-sd15-small.safetensors";
const sharp = (await import("sharp")).default;
const PNG_10x6 = (
  await sharp({ create: { width: 10, height: 6, channels: 3, background: { r: 200, g: 30, b: 60 } } })
    .png()
    .toBuffer()
).toString("base64");

function files(sub: "input" | "output" | "temp"): string[] {
  const root = join(DIR, sub);
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

function snapshot(): Set<string> {
  return new Set([
    ...files("input").map((f) => `input/${f}`),
    ...files("output").map((f) => `output/${f}`),
    ...files("temp").map((f) => `temp/${f}`),
  ]);
}

const log = (...args: unknown[]) => console.log(...args);

const stack = await startStack({ vars: { LEASE_DURATION_S: "60" } });
const tenant = await client(stack);
const pool = "real";
const runner = await startTestRunner(stack, [COMFY], {
  token: await runnerToken(stack, pool),
  env: { COMFYUI_DIR: DIR },
});
const sent: RunnerEvent[] = [];
const gw = runner.runner.gateway;
const event = gw.event.bind(gw);
gw.event = (leaseId, ev, options) => {
  sent.push(ev);
  return event(leaseId, ev, options);
};
const submit = async (workflow: Record<string, unknown>) => {
  const res = await tenant.call("/v1/jobs", { body: { pool, workflow } });
  if (res.status !== 202) throw new Error(`submit: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json.id as string;
};

/** Watches the runner's websocket: the prompt id and every file ComfyUI reports in `executed`. */
function watchPrompt(): () => { promptId: string | null; paths: string[] } {
  let promptId: string | null = null;
  const paths: string[] = [];
  const off = runner.runner.slots[0]!.socket.subscribe({
    message(m) {
      const data = (m as { data?: unknown }).data as
        | { prompt_id?: string; output?: Record<string, unknown> }
        | undefined;
      if (m.type === "execution_start") promptId = data?.prompt_id ?? null;
      if (m.type !== "executed") return;
      for (const items of Object.values(data?.output ?? {})) {
        if (!Array.isArray(items)) continue;
        for (const i of items as Array<{ filename?: string; subfolder?: string; type?: string }>) {
          if (i.filename) paths.push(join(i.type ?? "output", i.subfolder ?? "", i.filename));
        }
      }
    },
  });
  return () => {
    off();
    return { promptId, paths };
  };
}

try {
  // a. input -> scale -> SaveImage (client prefix) + PreviewImage: succeeded, nothing left in the folders.
  let before = snapshot();
  const stopWatching = watchPrompt();
  let id = await submit({
    "10": { class_type: "LoadImage", inputs: { image: `data:image/png;base64,${PNG_10x6}` } },
    "11": {
      class_type: "ImageScale",
      inputs: { image: ["10", 0], upscale_method: "nearest-exact", width: 20, height: 12, crop: "disabled" },
    },
    "12": { class_type: "PreviewImage", inputs: { images: ["11", 0] } },
    "13": { class_type: "SaveImage", inputs: { images: ["11", 0], filename_prefix: "my portraits/alice" } },
  });
  let { job } = await finished(stack, tenant, id, 120_000);
  let after = snapshot();
  log(
    "a. status:",
    job.status,
    job.error ?? "",
    "outputs:",
    job.outputs.map((o: { filename: string }) => o.filename),
  );
  log(
    "   files new in ComfyUI's folders after the job:",
    [...after].filter((f) => !before.has(f)),
  );
  const seen = stopWatching();
  log("   what ComfyUI wrote (websocket `executed`), and whether it is still on disk:");
  for (const path of seen.paths) log(`     ${path}: ${existsSync(join(DIR, path)) ? "STILL THERE" : "removed"}`);
  log(`   run folders left in input/comfy-edge: ${readdirSync(join(DIR, "input", "comfy-edge")).length}`);
  const entry = await (await fetch(`${COMFY}/history/${seen.promptId}`)).json();
  log(`   ComfyUI's /history/${seen.promptId}: ${JSON.stringify(entry)}`);

  // b. SaveImage without filename_prefix.
  before = snapshot();
  id = await submit({
    "1": { class_type: "EmptyImage", inputs: { width: 16, height: 8, batch_size: 1, color: Date.now() % 0xffffff } },
    "2": { class_type: "SaveImage", inputs: { images: ["1", 0] } },
  });
  ({ job } = await finished(stack, tenant, id, 120_000));
  after = snapshot();
  log(
    "b. no filename_prefix:",
    job.status,
    job.error ?? "",
    job.outputs.map((o: { filename: string }) => o.filename),
  );
  log(
    "   files new after the job:",
    [...after].filter((f) => !before.has(f)),
  );

  // c. ImageBlur(31) on 8x8: execution_error as the tenant sees it.
  id = await submit({
    "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 77 } },
    "2": { class_type: "ImageBlur", inputs: { image: ["1", 0], blur_radius: 31, sigma: 1 } },
    "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "blur" } },
  });
  ({ job } = await finished(stack, tenant, id, 120_000));
  log("c. execution error:", job.status, JSON.stringify(job.error, null, 1));

  // d. KSampler with seed -1: the seed chosen and reported.
  const txt2img = (steps: number) =>
    txt2imgWorkflow({
      ckpt: CKPT,
      width: 64,
      height: 64,
      prompt: "a foggy harbour",
      negative: "",
      seed: -1,
      steps,
      prefix: "harbour",
    });
  before = snapshot();
  const sentBefore = sent.length;
  id = await submit(txt2img(4));
  ({ job } = await finished(stack, tenant, id, 300_000));
  after = snapshot();
  const started = sent.slice(sentBefore).find((e) => e.type === "started");
  log(
    "d. KSampler seed -1:",
    job.status,
    job.error ?? "",
    job.outputs.map((o: { filename: string }) => o.filename),
  );
  log("   started event:", JSON.stringify(started), "| job.resolved_inputs:", JSON.stringify(job.resolved_inputs));
  log(
    "   files new after the job:",
    [...after].filter((f) => !before.has(f)),
  );

  // e. Cancel a running KSampler: latency from the cancel request to ComfyUI's interrupt and to canceled.
  id = await submit(txt2img(60));
  const t0 = await new Promise<number>((resolve) => {
    const off = runner.runner.slots[0]!.socket.subscribe({
      message(m) {
        if (m.type === "progress") {
          off();
          resolve(Date.now());
        }
      },
    });
  });
  const cancelAt = Date.now();
  let interruptedAt = 0;
  const offInterrupt = runner.runner.slots[0]!.socket.subscribe({
    message(m) {
      if (m.type === "execution_interrupted") interruptedAt = Date.now();
    },
  });
  await tenant.call(`/v1/jobs/${id}/cancel`, { method: "POST" });
  ({ job } = await finished(stack, tenant, id, 300_000));
  offInterrupt();
  log(
    `e. cancel: ${job.status}; first progress at +0, cancel sent at +${cancelAt - t0} ms,`,
    `ComfyUI execution_interrupted after ${interruptedAt ? interruptedAt - cancelAt : "?"} ms,`,
    `job ${job.status} after ${Date.parse(job.completed_at) - cancelAt} ms`,
  );
} finally {
  await runner.close();
  await stack.close();
}
