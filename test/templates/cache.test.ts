/**
 * Output cache for deterministic graphs over the whole stack with a scripted runner: a second identical
 * deterministic job is answered at once with the first one's outputs (x-cache: HIT, cached_from, no lease);
 * never across tenants; seeds of -1, `cache: false` and changed inputs miss; template runs too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cacheHash, isDeterministic } from "../../workers/gateway/src/templates/output-cache.ts";
import { ensurePool, runnerToken, ScriptedRunner, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { fixture } from "./fixtures.ts";

const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea73581e40000000049454e44ae426082",
  "hex",
);
type JobJson = { id: string; status: string; cached_from?: string; outputs: unknown[] };
const graph = (seed: number, text = "a cat") => ({
  "3": {
    class_type: "KSampler",
    inputs: {
      seed,
      steps: 2,
      cfg: 8,
      sampler_name: "euler",
      scheduler: "normal",
      denoise: 1,
      model: ["4", 0],
      positive: ["6", 0],
      negative: ["6", 0],
      latent_image: ["5", 0],
    },
  },
  "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "tiny.safetensors" } },
  "5": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } },
  "6": { class_type: "CLIPTextEncode", inputs: { text, clip: ["4", 1] } },
  "8": { class_type: "VAEDecode", inputs: { samples: ["3", 0], vae: ["4", 2] } },
  "9": { class_type: "SaveImage", inputs: { images: ["8", 0], filename_prefix: "c" } },
});

describe("output cache: deterministic graphs (pure)", () => {
  it("a graph is deterministic when every seed is fixed and nothing comes from outside it", () => {
    expect(isDeterministic(graph(5))).toBe(true);
    expect(isDeterministic(graph(-1))).toBe(false);
    const url = graph(5) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    url["7"] = { class_type: "LoadImage", inputs: { image: "https://example.com/a.png" } };
    expect(isDeterministic(url as never)).toBe(false);
    expect(isDeterministic(fixture("sdxl-refiner.api.json") as never)).toBe(true);
  });

  it("the hash ignores titles and key order, and changes with any input, the pool or the output options", async () => {
    const a = graph(5) as Record<string, Record<string, unknown>>;
    const titled = structuredClone(a);
    titled["3"]!._meta = { title: "Sampler" };
    const reordered = Object.fromEntries(Object.entries(a).reverse());
    const h = await cacheHash(a as never, "p", undefined);
    expect(await cacheHash(titled as never, "p", undefined)).toBe(h);
    expect(await cacheHash(reordered as never, "p", undefined)).toBe(h);
    expect(await cacheHash(graph(6) as never, "p", undefined)).not.toBe(h);
    expect(await cacheHash(graph(5, "a dog") as never, "p", undefined)).not.toBe(h);
    expect(await cacheHash(a as never, "q", undefined)).not.toBe(h);
    expect(await cacheHash(a as never, "p", { format: "webp" })).not.toBe(h);
  });
});

describe("output cache over the stack", () => {
  let stack: Stack;
  let runner: ScriptedRunner;
  beforeAll(async () => {
    stack = await startStack();
    await ensurePool(stack, "cache");
    runner = new ScriptedRunner(stack, await runnerToken(stack, "cache"));
  }, 60_000);
  afterAll(() => stack?.close());

  async function submit(key: string, path: string, body: unknown) {
    const res = await fetch(`${stack.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, cache: res.headers.get("x-cache"), job: (await res.json()) as JobJson };
  }

  async function runOne(expectedJob: string) {
    const grant = (await runner.lease(20))!;
    expect(grant.job.id).toBe(expectedJob);
    const up = await runner.upload(grant.lease.id, PNG, "c_00001_.png");
    await runner.event(grant.lease.id, { type: "succeeded", outputs: [up.ref] });
  }

  async function get(key: string, id: string) {
    const res = await fetch(`${stack.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${key}` } });
    return (await res.json()) as JobJson;
  }

  it("HIT with the first job's outputs and no lease; MISS for another tenant, a new seed, seed -1 or cache: false", async () => {
    const a = await tenantWithKey(stack, { default_pool: "cache" });
    const b = await tenantWithKey(stack, { default_pool: "cache" });
    const first = await submit(a.key, "/v1/jobs", { workflow: graph(7) });
    expect(first).toMatchObject({ status: 202, cache: "MISS" });
    await runOne(first.job.id);
    await expect.poll(async () => (await get(a.key, first.job.id)).status).toBe("succeeded");

    const again = await submit(a.key, "/v1/jobs", { workflow: graph(7) });
    expect(again.cache).toBe("HIT");
    expect(again.status).toBe(200);
    expect(again.job).toMatchObject({ status: "succeeded", cached_from: first.job.id, attempt: 0 });
    expect(again.job.id).not.toBe(first.job.id);
    expect(again.job.outputs).toHaveLength(1);
    const bytes = await fetch(`${stack.url}/v1/jobs/${again.job.id}/outputs/0`, {
      headers: { authorization: `Bearer ${a.key}` },
    });
    expect(Buffer.compare(Buffer.from(await bytes.arrayBuffer()), PNG)).toBe(0);
    // The copy outlives the original.
    await fetch(`${stack.url}/v1/jobs/${first.job.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${a.key}` },
    });
    const still = await fetch(`${stack.url}/v1/jobs/${again.job.id}/outputs/0`, {
      headers: { authorization: `Bearer ${a.key}` },
    });
    expect(still.status).toBe(200);
    await still.arrayBuffer();

    const other = await submit(b.key, "/v1/jobs", { workflow: graph(7) });
    expect(other).toMatchObject({ status: 202, cache: "MISS" });
    expect(other.job.cached_from).toBeUndefined();
    const optOut = await submit(a.key, "/v1/jobs", { workflow: graph(8), cache: false });
    expect(optOut.cache).toBe("BYPASS");
    const random = await submit(a.key, "/v1/jobs", { workflow: graph(-1) });
    expect(random.cache).toBe("BYPASS");
    for (const j of [other, optOut, random]) await runOne(j.job.id);
  });

  it("template runs with a fixed seed hit the cache; seed -1 does not", async () => {
    const t = await tenantWithKey(stack, { default_pool: "cache" });
    const created = await submit(t.key, "/v1/templates", { name: "t2i", workflow: fixture("sd15-txt2img.ui.json") });
    expect(created.status).toBe(201);
    const first = await submit(t.key, "/v1/templates/t2i/runs", { inputs: { prompt: "a fox", seed: 11 } });
    expect(first.cache).toBe("MISS");
    await runOne(first.job.id);
    await expect.poll(async () => (await get(t.key, first.job.id)).status).toBe("succeeded");
    const hit = await submit(t.key, "/v1/templates/t2i/runs", { inputs: { prompt: "a fox", seed: 11 } });
    expect(hit.cache).toBe("HIT");
    expect(hit.job).toMatchObject({
      status: "succeeded",
      cached_from: first.job.id,
      template: { ref: "t2i@1", inputs: { seed: 11 } },
    });
    const random = await submit(t.key, "/v1/templates/t2i/runs", { inputs: { prompt: "a fox" } });
    expect(random.cache).toBe("BYPASS");
    await runOne(random.job.id);
  });
});
