/**
 * Manual check of the Images API against a real ComfyUI (not part of npm test): the gateway stack on
 * workerd, one runner pointed at COMFYUI_URL (default http://127.0.0.1:8188) with the random-weight SD1.5
 * checkpoint, an LLM upstream double, and the official openai SDK as the client: a generation (n = 2 as a
 * batch), an edit session of 2 turns over the generated image, a composition of 4 images, a streamed
 * generation, and one sentence to one image (an LLM writes the prompt). The pixels are noise; every step
 * is real.
 *
 *   npx esbuild test/images/try-real-comfyui.ts --bundle --platform=node --format=esm --packages=external \
 *     --outfile=test/images/.real.mjs && node test/images/.real.mjs     # CKPT=tiny-random-sd15-small.safetensors
 */
import { homedir } from "node:os";
import { join } from "node:path";
import OpenAI, { toFile } from "openai";
import { startTestRunner } from "../e2e/helpers.ts";
import { api, runnerToken, tenantWithKey } from "../harness/api.ts";
import { startStack } from "../harness/stack.ts";
import { startUpstreamDouble } from "../llm/upstream-double.ts";
import { T2I } from "./fixtures.ts";

const COMFY = process.env.COMFYUI_URL ?? "http://127.0.0.1:8188";
const DIR = process.env.COMFYUI_DIR ?? join(homedir(), "comfy-harness", "ComfyUI");
const CKPT = process.env.CKPT ?? "tiny-random-sd15-small.safetensors";
const log = (...args: unknown[]) => console.log(...args);

const small = {
  ...T2I,
  "3": { ...T2I["3"], inputs: { ...T2I["3"].inputs, steps: 2 } },
  "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: CKPT } },
  "5": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } },
};
const img2img = {
  ...small,
  "3": { ...small["3"], inputs: { ...small["3"].inputs, latent_image: ["11", 0], denoise: 0.6 } },
  "10": { class_type: "LoadImage", inputs: { image: "example.png" } },
  "11": { class_type: "VAEEncode", inputs: { pixels: ["10", 0], vae: ["4", 2] } },
};

const llm = await startUpstreamDouble({ name: "primary", models: ["gpt-test"], log: [] });
const upstreams = JSON.stringify([{ name: "primary", base_url: llm.url, models: ["gpt-test"], priority: 1 }]);
/** img2img over a batch of 4 loaded images (4 outputs). */
const compose = {
  ...img2img,
  "11": { class_type: "VAEEncode", inputs: { pixels: ["22", 0], vae: ["4", 2] } },
  "12": { class_type: "LoadImage", inputs: { image: "b.png" } },
  "13": { class_type: "LoadImage", inputs: { image: "c.png" } },
  "14": { class_type: "LoadImage", inputs: { image: "d.png" } },
  "20": { class_type: "ImageBatch", inputs: { image1: ["10", 0], image2: ["12", 0] } },
  "21": { class_type: "ImageBatch", inputs: { image1: ["20", 0], image2: ["13", 0] } },
  "22": { class_type: "ImageBatch", inputs: { image1: ["21", 0], image2: ["14", 0] } },
};

const stack = await startStack({ vars: { LEASE_DURATION_S: "60", LLM_UPSTREAMS: upstreams } });
const pool = "real-images";
const runner = await startTestRunner(stack, [COMFY], {
  token: await runnerToken(stack, pool),
  env: { COMFYUI_DIR: DIR },
});
try {
  const t = await tenantWithKey(stack, { default_pool: pool });
  const call = api(stack, t.key);
  for (const [name, workflow, model] of [
    ["real-t2i", small, "sd15-real"],
    ["real-edit", img2img, "sd15-real-edit"],
    ["real-compose", compose, "sd15-real-compose"],
  ] as const) {
    const r = await call("/v1/templates", { body: { name, workflow, images_model: model } });
    if (r.status !== 201) throw new Error(`template ${name}: ${r.status} ${JSON.stringify(r.json)}`);
  }
  const openai = new OpenAI({ apiKey: t.key, baseURL: `${stack.url}/v1`, maxRetries: 0, timeout: 600_000 });
  log("models:", (await openai.models.list()).data.map((m) => `${m.id} (${m.owned_by})`).join(", "));

  let started = Date.now();
  const gen = await openai.images
    .generate({ model: "sd15-real", prompt: "a lighthouse at dusk", n: 2, size: "96x64", response_format: "b64_json" })
    .withResponse();
  const job = await call(`/v1/jobs/${gen.response.headers.get("x-job-id")}`);
  log(
    `generate: ${gen.data.data?.length} images in ${Date.now() - started} ms, job ${job.json.id} ${job.json.status},`,
    `graph ${JSON.stringify(job.json.template.inputs)}, sizes ${gen.data.data?.map((d) => Buffer.from(d.b64_json!, "base64").length).join("/")} bytes`,
  );

  const first = Buffer.from(gen.data.data![0]!.b64_json!, "base64");
  started = Date.now();
  const turn1 = await openai.images.edit({
    model: "sd15-real-edit",
    prompt: "make it night",
    image: await toFile(first, "in.png", { type: "image/png" }),
  });
  const session = (turn1 as unknown as { edit_session: string }).edit_session;
  const turn2 = await openai.images.edit({
    model: "sd15-real-edit",
    prompt: "add stars",
    edit_session: session,
  } as never);
  log(
    `edit session ${session}: 2 turns in ${Date.now() - started} ms; turn 2 url ${turn2.data?.[0]?.url?.slice(0, 60)}...`,
  );
  const view = await call(`/v1/images/sessions/${session}`);
  for (const turn of view.json.turns) {
    const j = await call(`/v1/jobs/${turn.job_ids[0]}`);
    const out = await fetch(turn.outputs[0].url);
    log(
      `  turn "${turn.prompt}": job ${j.json.status}, ${j.json.outputs.length} output(s), ${(await out.arrayBuffer()).byteLength} bytes, run ${j.json.stats.run_ms} ms`,
    );
  }
  started = Date.now();
  const four = await openai.images
    .edit({
      model: "sd15-real-compose",
      prompt: "a collage",
      image: await Promise.all(
        gen.data
          .data!.concat(gen.data.data!)
          .map((d, i) => toFile(Buffer.from(d.b64_json!, "base64"), `${i}.png`, { type: "image/png" })),
      ),
    })
    .withResponse();
  log(
    `compose 4 images: ${four.data.data?.length} outputs in ${Date.now() - started} ms, job ${four.response.headers.get("x-job-id")}`,
  );

  started = Date.now();
  const stream = await openai.images.generate({
    model: "sd15-real",
    prompt: "streamed",
    stream: true,
    partial_images: 2,
  });
  const types: string[] = [];
  for await (const e of stream) types.push(`${e.type} (${Buffer.from(e.b64_json, "base64").length} bytes)`);
  log(`stream: ${types.join(", ")} in ${Date.now() - started} ms`);

  started = Date.now();
  const chained = await openai.images
    .generate({
      model: "sd15-real",
      prompt: "one sentence: a cat on a roof",
      prompt_enhance: { model: "gpt-test" },
    } as never)
    .withResponse();
  const cj = await call(`/v1/jobs/${chained.response.headers.get("x-job-id")}`);
  log(
    `chain: revised_prompt "${chained.data.data?.[0]?.revised_prompt}", usage ${JSON.stringify(chained.data.usage)}, job ${cj.json.status}, steps ${JSON.stringify(cj.json.steps)} in ${Date.now() - started} ms`,
  );

  const err = await openai.images.generate({ model: "nope", prompt: "x" }).catch((e) => e);
  log(`unknown model: ${err.constructor.name} ${err.status} ${err.code}`);
} finally {
  await runner.close();
  await stack.close();
  await llm.close();
}
