/**
 * Live sampler previews and resolved seeds end to end: gateway + consumer on workerd, the real runner and
 * the ComfyUI double, whose KSampler sends a JPEG preview frame per step as ComfyUI 0.33 does. The job's SSE
 * stream carries `preview` events (data: URLs, at most 1 per second, no `id:`, the latest one for a late
 * subscriber, none replayed after the end); `started` names the seed the runner chose for -1; the Images API
 * streams `image_generation.partial_image` events from the previews (official `openai` SDK), and edits stream
 * `image_edit.partial_image` / `image_edit.completed`, saving an edit session's turn when the stream completes.
 */
import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePng } from "../comfyui-double/codec.ts";
import { type ComfyDouble, startComfyDouble } from "../comfyui-double/index.ts";
import { api, readSse } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { txt2imgWorkflow } from "../harness/workflows.ts";
import { imageTenant } from "../images/fixtures.ts";
import { startTestRunner, type TestRunner } from "./helpers.ts";

const CKPT = "tiny-random-sd15-small.safetensors";
/** KSampler's 10 steps take 4 s in the double: a preview every 400 ms, of which the runner forwards 1 per second. */
const SAMPLER_MS = 4000;
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

let stack: Stack;
let comfy: ComfyDouble;
let runner: TestRunner;
let t: Awaited<ReturnType<typeof imageTenant>>;
let call: ReturnType<typeof api>;

beforeAll(async () => {
  [stack, comfy] = await Promise.all([startStack(), startComfyDouble({ models: { checkpoints: [CKPT] } })]);
  comfy.setNodeDelay("KSampler", SAMPLER_MS);
  t = await imageTenant(stack, "previews");
  runner = await startTestRunner(stack, [comfy.url], { token: t.token, pool: "previews" });
  call = api(stack, t.key);
}, 90_000);
afterAll(async () => {
  await runner?.close();
  await comfy?.close();
  await stack?.close();
});

const bytesOf = (dataUrl: string) => Buffer.from(dataUrl.replace(/^data:image\/jpeg;base64,/, ""), "base64");

describe("job SSE previews and resolved seeds", () => {
  it("streams previews while sampling (1 per second at most), and started says which seed ran", async () => {
    const workflow = txt2imgWorkflow({ ckpt: CKPT, seed: -1, steps: 10, width: 64, height: 64 });
    const submitted = await call("/v1/jobs", { body: { workflow } });
    expect(submitted.status, JSON.stringify(submitted.json)).toBe(202);
    const jobId = submitted.json.id as string;
    const live = readSse(`${stack.url}/v1/jobs/${jobId}/events`, t.key, { timeoutMs: 60_000 });
    // A subscriber arriving mid-run gets the latest preview at once, after the stored events.
    const late = await readSse(`${stack.url}/v1/jobs/${jobId}/events`, t.key, {
      timeoutMs: 60_000,
      until: (e) => e.event === "preview",
    });
    const { events, ended } = await live;
    expect(ended).toBe(true);

    const previews = events.filter((e) => e.event === "preview");
    expect(previews.length).toBeGreaterThanOrEqual(2);
    for (const p of previews) {
      expect(p.id).toBe(""); // ephemeral: no id, so Last-Event-ID never points at one
      expect(p.data).toMatchObject({ type: "preview", attempt: 1, node_id: "3", max: 10 });
      expect(p.data.image).toMatch(/^data:image\/jpeg;base64,/);
      expect([...bytesOf(p.data.image).subarray(0, 3)]).toEqual(JPEG_MAGIC);
    }
    // The runner's throttle: consecutive previews at least ~1 s apart (arrival times; 100 ms for transport).
    const at = previews.map((p) => Date.parse(p.data.at));
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(900);
    expect(previews.map((p) => p.data.value)).toEqual([...previews.map((p) => p.data.value)].sort((a, b) => a - b));
    expect(late.events.at(-1)?.event).toBe("preview");

    // Stored events are unchanged: previews sit between them without ids; `started` carries the seed.
    const stored = events.filter((e) => e.event !== "preview");
    expect(stored.map((e) => e.event)).toEqual(expect.arrayContaining(["queued", "started", "output", "succeeded"]));
    expect(stored.map((e) => Number(e.id))).toEqual(stored.map((_, i) => i + 1));
    const started = stored.find((e) => e.event === "started")!;
    const job = (await call(`/v1/jobs/${jobId}`)).json;
    const seed = job.resolved_inputs?.["3"]?.seed;
    expect(typeof seed).toBe("number");
    expect(seed).not.toBe(-1);
    expect(started.data).toMatchObject({ attempt: 1, runner_id: "test-runner", resolved_inputs: { "3": { seed } } });
    // The seed that ran is the one ComfyUI got.
    const ran = comfy.prompts().map((p) => (p.prompt as Record<string, { inputs: Record<string, unknown> }>)["3"]);
    expect(ran.map((n) => n?.inputs.seed)).toContain(seed);

    // After the end nothing replays them.
    const replay = await readSse(`${stack.url}/v1/jobs/${jobId}/events`, t.key);
    expect(replay.events.map((e) => e.event)).toEqual(stored.map((e) => e.event));
  });
});

describe("Images API streaming with partial images", () => {
  it("sends partial_images image_generation.partial_image events from the previews, then completed", async () => {
    const template = await call("/v1/templates", {
      body: {
        name: "t2i-stream",
        workflow: txt2imgWorkflow({ ckpt: CKPT, steps: 10, width: 64, height: 64 }),
        images_model: "sd15-stream",
      },
    });
    expect(template.status, JSON.stringify(template.json)).toBe(201);
    const { data: stream, response } = await t.client.images
      .generate({ model: "sd15-stream", prompt: "a lighthouse", stream: true, partial_images: 2 })
      .withResponse();
    const events = [];
    for await (const e of stream) events.push(e);
    expect(events.map((e) => e.type)).toEqual([
      "image_generation.partial_image",
      "image_generation.partial_image",
      "image_generation.completed",
    ]);
    const partial = events.filter((e) => e.type === "image_generation.partial_image");
    expect(partial.map((e) => e.partial_image_index)).toEqual([0, 1]);
    for (const e of partial) {
      expect(e).toMatchObject({ output_format: "jpeg", size: "auto", quality: "auto", background: "auto" });
      expect([...Buffer.from(e.b64_json, "base64").subarray(0, 3)]).toEqual(JPEG_MAGIC);
      expect(e.created_at).toBeGreaterThan(0);
    }
    const completed = events.at(-1)!;
    const jobId = response.headers.get("x-job-id")!;
    const output = await fetch(`${stack.url}/v1/jobs/${jobId}/outputs/0`, {
      headers: { authorization: `Bearer ${t.key}` },
    });
    expect(Buffer.from(completed.b64_json, "base64")).toEqual(Buffer.from(await output.arrayBuffer()));
  });

  it("partial_images 0 (or a job that ends before its previews) sends only completed", async () => {
    comfy.setNodeDelay("KSampler", 1);
    try {
      const stream = await t.client.images.generate({
        model: "sd15-stream",
        prompt: "fast",
        stream: true,
        partial_images: 0,
      });
      const types = [];
      for await (const e of stream) types.push(e.type);
      expect(types).toEqual(["image_generation.completed"]);
    } finally {
      comfy.setNodeDelay("KSampler", SAMPLER_MS);
    }
  });
});

describe("Images API edits streaming (image_edit.* events) in an edit session", () => {
  const wf = txt2imgWorkflow({ ckpt: CKPT, steps: 10, width: 64, height: 64 });
  const img2img = {
    ...wf,
    "3": { ...wf["3"], inputs: { ...wf["3"].inputs, latent_image: ["11", 0], denoise: 0.6 } },
    "10": { class_type: "LoadImage", inputs: { image: "example.png" } },
    "11": { class_type: "VAEEncode", inputs: { pixels: ["10", 0], vae: ["4", 2] } },
  };
  const outputOf = async (jobId: string) =>
    Buffer.from(
      await (
        await fetch(`${stack.url}/v1/jobs/${jobId}/outputs/0`, { headers: { authorization: `Bearer ${t.key}` } })
      ).arrayBuffer(),
    );

  it("partial images from the previews, then completed with edit_session; the turn is saved when it completes", async () => {
    const template = await call("/v1/templates", {
      body: { name: "i2i-stream", workflow: img2img, images_model: "sd15-edit-stream" },
    });
    expect(template.status, JSON.stringify(template.json)).toBe(201);
    const start = await encodePng({ width: 8, height: 8, channels: 3, data: new Uint8Array(8 * 8 * 3).fill(200) });
    const image = await toFile(Buffer.from(start), "start.png", { type: "image/png" });
    const { data: stream, response } = await t.client.images
      .edit({ model: "sd15-edit-stream", prompt: "sepia", image, stream: true, partial_images: 2 })
      .withResponse();
    const events = [];
    for await (const e of stream) events.push(e);
    expect(events.map((e) => e.type)).toEqual([
      "image_edit.partial_image",
      "image_edit.partial_image",
      "image_edit.completed",
    ]);
    const partial = events.filter((e) => e.type === "image_edit.partial_image");
    expect(partial.map((e) => e.partial_image_index)).toEqual([0, 1]);
    for (const e of partial) {
      expect(e).toMatchObject({ output_format: "jpeg", size: "auto", quality: "auto", background: "auto" });
      expect([...Buffer.from(e.b64_json, "base64").subarray(0, 3)]).toEqual(JPEG_MAGIC);
    }
    const completed = events.at(-1) as (typeof events)[number] & { edit_session?: string };
    const session = response.headers.get("x-edit-session");
    expect(session).toMatch(/^isess_/);
    expect(completed.edit_session).toBe(session);
    const job1 = response.headers.get("x-job-id")!;
    const out1 = await outputOf(job1);
    expect(Buffer.from(completed.b64_json, "base64")).toEqual(out1);

    // The turn was saved before the completed event: reading the session right away finds it.
    const view = await call(`/v1/images/sessions/${session}`);
    expect(view.status, JSON.stringify(view.json)).toBe(200);
    expect(view.json.turns.map((x: { prompt: string; job_ids: string[] }) => [x.prompt, x.job_ids])).toEqual([
      ["sepia", [job1]],
    ]);

    // Turn 2, streamed without an image: edits turn 1's output (the bytes the runner uploaded to ComfyUI).
    const uploadsBefore = comfy.uploads().length;
    const { data: stream2, response: response2 } = await t.client.images
      .edit({ model: "sd15-edit-stream", prompt: "brighter", stream: true, edit_session: session } as never)
      .withResponse();
    const events2 = [];
    for await (const e of stream2 as unknown as AsyncIterable<{ type: string; edit_session?: string }>) events2.push(e);
    expect(events2.map((e) => [e.type, e.edit_session])).toEqual([["image_edit.completed", session]]);
    expect(
      comfy
        .uploads()
        .slice(uploadsBefore)
        .map((u) => Buffer.from(u.bytes)),
    ).toContainEqual(out1);
    const turns = (await call(`/v1/images/sessions/${session}`)).json.turns;
    expect(turns.map((x: { prompt: string; job_ids: string[] }) => [x.prompt, x.job_ids])).toEqual([
      ["sepia", [job1]],
      ["brighter", [response2.headers.get("x-job-id")]],
    ]);
  });
});
