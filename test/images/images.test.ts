/**
 * The Images API through the official `openai` SDK over the whole stack (gateway on workerd, real D1/R2/
 * DOs) with a scripted runner: templates served as image models, generations (url, b64_json, n > 1 as a
 * batch), edits with 1 and 4 images and a mask, a 3-turn edit session, /v1/models, typed errors.
 */
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, readSse, ScriptedRunner } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { EDIT4, imageTenant, png, serveJobs, T2I } from "./fixtures.ts";

let stack: Stack;
let t: Awaited<ReturnType<typeof imageTenant>>;
let jobs: ReturnType<typeof serveJobs>;
let call: ReturnType<typeof api>;

beforeAll(async () => {
  stack = await startStack();
  t = await imageTenant(stack, "img");
  jobs = serveJobs(new ScriptedRunner(stack, t.token));
  call = api(stack, t.key);
  const a = await call("/v1/templates", { body: { name: "t2i", workflow: T2I, images_model: "sd15-test" } });
  expect(a.status, JSON.stringify(a.json)).toBe(201);
  expect(a.json.images_model).toBe("sd15-test");
  const b = await call("/v1/templates", {
    body: { name: "edit4", workflow: EDIT4, images_model: "sd15-edit" },
  });
  expect(b.status, JSON.stringify(b.json)).toBe(201);
}, 90_000);
afterAll(async () => {
  await jobs?.stop();
  await stack?.close();
});

const servedFor = (jobId: string) => jobs.served.find((s) => s.grant.job.id === jobId)!;
type Wf = Record<string, { inputs: Record<string, unknown> }>;

describe("model map", () => {
  it("GET /v1/models lists the tenant's image models beside the LLM models", async () => {
    const list = await t.client.models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(["sd15-test", "sd15-edit"]));
    expect(list.data.find((m) => m.id === "sd15-test")!.owned_by).toBe("template:t2i");
  });

  it("a model name served by another template of the tenant is refused with 409", async () => {
    const r = await call("/v1/templates", { body: { name: "other", workflow: T2I, images_model: "sd15-test" } });
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe("images_model_taken");
  });

  it("two templates racing for one model name: one is created, the others 409, never a 500", async () => {
    const results = await Promise.all(
      ["race-a", "race-b", "race-c", "race-d"].map((name) =>
        call("/v1/templates", { body: { name, workflow: T2I, images_model: "raced" } }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    for (const r of results.filter((x) => x.status === 409)) expect(r.json.error.code).toBe("images_model_taken");
  });

  it("a binding naming no input is refused at create", async () => {
    const r = await call("/v1/templates", {
      body: { name: "bad", workflow: T2I, images_model: "x1", images_bindings: { prompt: "nope" } },
    });
    expect(r.status).toBe(422);
    expect(r.json.error).toMatchObject({ code: "invalid_images_binding", param: "images_bindings.prompt" });
  });
});

describe("generations", () => {
  it("url: prompt, size fitted to the template's grid, quality scales steps, seed; job id in x-job-id", async () => {
    const { data, response } = await t.client.images
      .generate({ model: "sd15-test", prompt: "a red fox", size: "300x203", quality: "low", seed: 42 } as never)
      .withResponse();
    const jobId = response.headers.get("x-job-id")!;
    expect(jobId).toMatch(/^job_[0-9A-Za-z]+$/);
    const wf = servedFor(jobId).grant.job.workflow as Wf;
    expect(wf["6"]!.inputs.text).toBe("a red fox");
    expect(wf["5"]!.inputs).toMatchObject({ width: 304, height: 200, batch_size: 1 });
    expect(wf["3"]!.inputs).toMatchObject({ steps: 10, seed: 42 });
    expect(data.data).toHaveLength(1);
    expect(data.data![0]!.revised_prompt).toBe("a red fox");
    const img = await fetch(data.data![0]!.url!);
    expect(new Uint8Array(await img.arrayBuffer())).toEqual(servedFor(jobId).outputs[0]);
    const job = await call(`/v1/jobs/${jobId}`);
    expect(job.json.template).toMatchObject({ name: "t2i", inputs: { prompt: "a red fox" } });
    expect(job.json.metadata.images_model).toBe("sd15-test");
  });

  it("b64_json with n = 3: one job with batch size 3, three images", async () => {
    const { data, response } = await t.client.images
      .generate({ model: "sd15-test", prompt: "three owls", n: 3, response_format: "b64_json" })
      .withResponse();
    const jobId = response.headers.get("x-job-id")!;
    expect((servedFor(jobId).grant.job.workflow as Wf)["5"]!.inputs.batch_size).toBe(3);
    expect(data.data).toHaveLength(3);
    const got = data.data!.map((d) => new Uint8Array(Buffer.from(d.b64_json!, "base64")));
    expect(got).toEqual(servedFor(jobId).outputs);
  });

  it("stream: true answers image_generation.completed events, one per image, read by the SDK's stream", async () => {
    const { data: stream, response } = await t.client.images
      .generate({ model: "sd15-test", prompt: "streamed", n: 2, stream: true, partial_images: 1 })
      .withResponse();
    const events = [];
    for await (const e of stream) events.push(e);
    const served = servedFor(response.headers.get("x-job-id")!);
    expect(events.map((e) => e.type)).toEqual(["image_generation.completed", "image_generation.completed"]);
    expect(events.map((e) => new Uint8Array(Buffer.from(e.b64_json, "base64")))).toEqual(served.outputs);
    // This scripted runner reports only `succeeded`: the job still gets one `started` (before its outputs).
    const sse = await readSse(`${stack.url}/v1/jobs/${response.headers.get("x-job-id")}/events`, t.key);
    expect(sse.events.map((e) => e.event)).toEqual(["queued", "started", "output", "output", "succeeded"]);
    expect(sse.events[1]!.data).toMatchObject({ attempt: 1, runner_id: expect.any(String) });
  });

  it("output_format becomes the job's output options", async () => {
    const { response } = await t.client.images
      .generate({ model: "sd15-test", prompt: "webp", output_format: "webp", output_compression: 70 })
      .withResponse();
    const job = await call(`/v1/jobs/${response.headers.get("x-job-id")}`);
    expect(servedFor(job.json.id).grant.job.output).toEqual({ format: "webp", quality: 70 });
  });

  it("typed errors: unknown model -> NotFoundError model_not_found; bad size -> BadRequestError", async () => {
    const e1 = await t.client.images.generate({ model: "nope", prompt: "x" }).catch((e) => e);
    expect(e1).toBeInstanceOf(OpenAI.NotFoundError);
    expect(e1.code).toBe("model_not_found");
    expect(e1.param).toBe("model");
    const e2 = await t.client.images
      .generate({ model: "sd15-test", prompt: "x", size: "big" as never })
      .catch((e) => e);
    expect(e2).toBeInstanceOf(OpenAI.BadRequestError);
    expect(e2.code).toBe("invalid_value");
    expect(e2.param).toBe("size");
  });

  it("another tenant does not see the model", async () => {
    const other = await imageTenant(stack, "img");
    const e = await other.client.images.generate({ model: "sd15-test", prompt: "x" }).catch((err) => err);
    expect(e).toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe("edits and sessions", () => {
  const file = (tag: string) => toFile(Buffer.from(png(tag)), `${tag}.png`, { type: "image/png" });

  it("1 image: fills every image input; 4 images and a mask: each to its input", async () => {
    const one = await t.client.images
      .edit({ model: "sd15-edit", prompt: "sepia", image: await file("one") })
      .withResponse();
    const s1 = servedFor(one.response.headers.get("x-job-id")!);
    for (const node of ["10", "11", "12", "13"]) expect(s1.inputs[node]).toEqual(png("one"));
    expect((s1.grant.job.workflow as Wf)["6"]!.inputs.text).toBe("sepia");

    const images = await Promise.all(["a", "b", "c", "d"].map(file));
    const four = await t.client.images
      .edit({ model: "sd15-edit", prompt: "compose", image: images, mask: await file("m") })
      .withResponse();
    const s4 = servedFor(four.response.headers.get("x-job-id")!);
    expect([s4.inputs["10"], s4.inputs["11"], s4.inputs["12"], s4.inputs["13"]]).toEqual(["a", "b", "c", "d"].map(png));
    expect(s4.inputs["14"]).toEqual(png("m"));
    expect(four.data.data).toHaveLength(1);
    expect((four.data as unknown as { edit_session: string }).edit_session).toMatch(/^isess_/);
  });

  it("n = 2 on a template without a batch size: two jobs, each with its own seed", async () => {
    const two = await t.client.images
      .edit({ model: "sd15-edit", prompt: "twice", image: await file("n"), n: 2 })
      .withResponse();
    const ids = two.response.headers.get("x-job-id")!.split(",");
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    expect(two.data.data).toHaveLength(2);
    for (const id of ids) expect((servedFor(id).grant.job.workflow as Wf)["3"]!.inputs.seed).toBe(-1);
  });

  it("a 3-turn session: each turn edits the last output; GET lists the turns; a new image starts over", async () => {
    const first = await t.client.images
      .edit({ model: "sd15-edit", prompt: "turn 1", image: await file("start") })
      .withResponse();
    const session = (first.data as unknown as { edit_session: string }).edit_session;
    const jobs1 = first.response.headers.get("x-job-id")!;
    const second = await t.client.images
      .edit({ model: "sd15-edit", prompt: "turn 2", edit_session: session } as never)
      .withResponse();
    const jobs2 = second.response.headers.get("x-job-id")!;
    expect(servedFor(jobs2).inputs["10"]).toEqual(servedFor(jobs1).outputs[0]);
    const third = await t.client.images
      .edit({ model: "sd15-edit", prompt: "turn 3", edit_session: session } as never)
      .withResponse();
    const jobs3 = third.response.headers.get("x-job-id")!;
    expect(servedFor(jobs3).inputs["10"]).toEqual(servedFor(jobs2).outputs[0]);
    expect((third.data as unknown as { edit_session: string }).edit_session).toBe(session);

    const view = await call(`/v1/images/sessions/${session}`);
    expect(view.status).toBe(200);
    expect(view.json.turns.map((x: { prompt: string }) => x.prompt)).toEqual(["turn 1", "turn 2", "turn 3"]);
    expect(view.json.turns.map((x: { job_ids: string[] }) => x.job_ids[0])).toEqual([jobs1, jobs2, jobs3]);
    const out = await fetch(view.json.turns[2].outputs[0].url);
    expect(new Uint8Array(await out.arrayBuffer())).toEqual(servedFor(jobs3).outputs[0]);

    // reset: no previous output to edit.
    const reset = await t.client.images
      .edit({ model: "sd15-edit", prompt: "again", edit_session: session, reset: "true" } as never)
      .catch((e) => e);
    expect(reset).toBeInstanceOf(OpenAI.BadRequestError);
    expect(reset.code).toBe("missing_image");

    const fresh = await t.client.images
      .edit({ model: "sd15-edit", prompt: "over", image: await file("new"), edit_session: session } as never)
      .withResponse();
    expect(servedFor(fresh.response.headers.get("x-job-id")!).inputs["10"]).toEqual(png("new"));
    const after = await call(`/v1/images/sessions/${session}`);
    expect(after.json.turns.map((x: { prompt: string }) => x.prompt)).toEqual(["over"]);
  });

  it("errors: unknown session 404, a non-image upload 400, another tenant's session 404", async () => {
    const e1 = await t.client.images
      .edit({ model: "sd15-edit", prompt: "x", edit_session: "isess_nope" } as never)
      .catch((e) => e);
    expect(e1).toBeInstanceOf(OpenAI.NotFoundError);
    expect(e1.code).toBe("edit_session_not_found");
    const text = await toFile(Buffer.from("not an image"), "a.png", { type: "image/png" });
    const e2 = await t.client.images.edit({ model: "sd15-edit", prompt: "x", image: text }).catch((e) => e);
    expect(e2).toBeInstanceOf(OpenAI.BadRequestError);
    expect(e2.code).toBe("invalid_image_format");
    expect(e2.param).toBe("image[0]");
    const made = await t.client.images.edit({ model: "sd15-edit", prompt: "mine", image: await file("s") });
    const other = await imageTenant(stack, "img");
    const r = await api(
      stack,
      other.key,
    )(`/v1/images/sessions/${(made as unknown as { edit_session: string }).edit_session}`);
    expect(r.status).toBe(404);
  });
});
