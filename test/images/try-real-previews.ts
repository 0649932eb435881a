/**
 * Manual check of live previews against a real ComfyUI (not part of npm test): the gateway stack on workerd,
 * one runner, the CPU harness at COMFYUI_URL with the random-weight SD1.5 checkpoint. A KSampler job with
 * seed -1: counts the preview frames ComfyUI sent (runner's websocket), the previews the runner forwarded
 * and the job's SSE stream carried (gaps and sizes), and the seed in `started`; then an Images API stream
 * with partial_images 2 through the openai SDK, and a streamed edit of its image in an edit session
 * (image_edit.partial_image / image_edit.completed; the session's turn saved when the stream completes).
 *
 *   ./node_modules/node/bin/node test/images/try-real-previews.ts   # STEPS=8 SIZE=256 CKPT=...
 */
import OpenAI, { toFile } from "openai";
import { type Client, client, startTestRunner } from "../e2e/helpers.ts";
import { readSse, runnerToken } from "../harness/api.ts";
import { startStack } from "../harness/stack.ts";
import { txt2imgWorkflow } from "../harness/workflows.ts";

const COMFY = process.env.COMFYUI_URL ?? "http://127.0.0.1:8188";
const CKPT = process.env.CKPT ?? "tiny-random-sd15-small.safetensors";
const STEPS = Number(process.env.STEPS ?? 8);
const SIZE = Number(process.env.SIZE ?? 256);
const log = (...args: unknown[]) => console.log(...args);

const stack = await startStack({ vars: { LEASE_DURATION_S: "60" } });
const tenant: Client = await client(stack);
const pool = "local";
const runner = await startTestRunner(stack, [COMFY], { token: await runnerToken(stack, pool) });
let comfyFrames = 0;
const frameBytes: number[] = [];
runner.runner.slots[0]!.socket.subscribe({
  binary(f) {
    if (f.type === "preview_image" || f.type === "preview_image_with_metadata") {
      comfyFrames += 1;
      frameBytes.push(f.image.byteLength);
    }
  },
});

try {
  const workflow = txt2imgWorkflow({ ckpt: CKPT, seed: -1, steps: STEPS, width: SIZE, height: SIZE, prefix: "prev" });
  const t0 = Date.now();
  const res = await tenant.call("/v1/jobs", { body: { workflow, cache: false } });
  if (res.status !== 202) throw new Error(`submit: ${res.status} ${JSON.stringify(res.json)}`);
  const jobId = res.json.id as string;
  const sse = await readSse(`${stack.url}/v1/jobs/${jobId}/events`, tenant.key, { timeoutMs: 600_000 });
  const job = (await tenant.call(`/v1/jobs/${jobId}`)).json;
  const previews = sse.events.filter((e) => e.event === "preview");
  const at = previews.map((p) => Date.parse(p.data.at));
  const gaps = at.slice(1).map((t, i) => t - at[i]!);
  const sizes = previews.map((p) => Buffer.from(p.data.image.split(",")[1], "base64").length);
  log(`job ${jobId}: ${job.status} in ${Date.now() - t0} ms (${STEPS} steps, ${SIZE}x${SIZE})`);
  log(`  ComfyUI preview frames: ${comfyFrames}, bytes ${Math.min(...frameBytes)}..${Math.max(...frameBytes)}`);
  log(
    `  SSE preview events: ${previews.length}; steps ${previews.map((p) => `${p.data.value}/${p.data.max}`).join(" ")}`,
  );
  log(`  gaps between previews (ms): ${gaps.join(", ")}; min ${gaps.length ? Math.min(...gaps) : "-"}`);
  log(`  preview sizes (bytes): ${sizes.join(", ")}; type ${previews[0]?.data.image.slice(0, 23)}`);
  log(
    `  stored events: ${sse.events
      .filter((e) => e.event !== "preview")
      .map((e) => e.event)
      .join(", ")}`,
  );
  log(`  started: ${JSON.stringify(sse.events.find((e) => e.event === "started")?.data)}`);
  log(`  job.resolved_inputs: ${JSON.stringify(job.resolved_inputs)}`);

  const tpl = await tenant.call("/v1/templates", {
    body: {
      name: "real-t2i",
      workflow: txt2imgWorkflow({ ckpt: CKPT, steps: STEPS, width: SIZE, height: SIZE }),
      images_model: "sd15-real",
    },
  });
  if (tpl.status !== 201) throw new Error(`template: ${tpl.status} ${JSON.stringify(tpl.json)}`);
  const openai = new OpenAI({ apiKey: tenant.key, baseURL: `${stack.url}/v1`, maxRetries: 0, timeout: 600_000 });
  const t1 = Date.now();
  const stream = await openai.images.generate({
    model: "sd15-real",
    prompt: "streamed",
    stream: true,
    partial_images: 2,
  });
  const seen: string[] = [];
  for await (const e of stream)
    seen.push(
      `${e.type}${"partial_image_index" in e ? `#${e.partial_image_index}` : ""} ${e.output_format} ${Buffer.from(e.b64_json, "base64").length} B at +${Date.now() - t1} ms`,
    );
  log(`images stream (partial_images 2):\n  ${seen.join("\n  ")}`);

  const base = txt2imgWorkflow({ ckpt: CKPT, steps: STEPS, width: SIZE, height: SIZE });
  const img2img = {
    ...base,
    "3": { ...base["3"], inputs: { ...base["3"].inputs, latent_image: ["11", 0], denoise: 0.6 } },
    "10": { class_type: "LoadImage", inputs: { image: "example.png" } },
    "11": { class_type: "VAEEncode", inputs: { pixels: ["10", 0], vae: ["4", 2] } },
  };
  const edit = await tenant.call("/v1/templates", {
    body: { name: "real-i2i", workflow: img2img, images_model: "sd15-real-edit" },
  });
  if (edit.status !== 201) throw new Error(`edit template: ${edit.status} ${JSON.stringify(edit.json)}`);
  const last = (await openai.images.generate({ model: "sd15-real", prompt: "to edit", response_format: "b64_json" }))
    .data?.[0]?.b64_json;
  const t2 = Date.now();
  const { data: editStream, response } = await openai.images
    .edit({
      model: "sd15-real-edit",
      prompt: "sepia",
      image: await toFile(Buffer.from(last ?? "", "base64"), "in.png", { type: "image/png" }),
      stream: true,
      partial_images: 2,
    })
    .withResponse();
  const edits: string[] = [];
  for await (const e of editStream)
    edits.push(
      `${e.type}${"partial_image_index" in e ? `#${e.partial_image_index}` : ` edit_session ${(e as { edit_session?: string }).edit_session}`} ${Buffer.from(e.b64_json, "base64").length} B at +${Date.now() - t2} ms`,
    );
  const session = response.headers.get("x-edit-session");
  const turns = (await tenant.call(`/v1/images/sessions/${session}`)).json.turns;
  log(`edit stream (partial_images 2), x-edit-session ${session}:\n  ${edits.join("\n  ")}`);
  log(`  session turns right after the stream: ${JSON.stringify(turns.map((x: { prompt: string }) => x.prompt))}`);
} finally {
  await runner.close();
  await stack.close();
}
