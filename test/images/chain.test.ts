/**
 * One sentence to one image: prompt_enhance runs a chat completion through the gateway's own LLM proxy
 * (an upstream double writes the prompt), the answer is the revised_prompt and the image model's prompt,
 * the job records the step with usage and cache state; the second identical run is a cache hit.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, ensurePool, runnerToken, ScriptedRunner } from "../harness/api.ts";
import { forwarded, type LlmStack, startLlmStack, unique } from "../llm/fixtures.ts";
import { serveJobs, T2I } from "./fixtures.ts";

let s: LlmStack;
let jobs: ReturnType<typeof serveJobs>;
let client: OpenAI;
let call: ReturnType<typeof api>;
let jobsOnlyClient: OpenAI;

beforeAll(async () => {
  s = await startLlmStack();
  await ensurePool(s.stack, "chain");
  jobs = serveJobs(new ScriptedRunner(s.stack, await runnerToken(s.stack, "chain")));
  const t = await s.tenant({ default_pool: "chain" }, { scopes: ["llm", "jobs"] });
  client = new OpenAI({ apiKey: t.key, baseURL: `${s.stack.url}/v1`, maxRetries: 0, timeout: 60_000 });
  call = api(s.stack, t.key);
  const made = await call("/v1/templates", { body: { name: "t2i", workflow: T2I, images_model: "sd15-chain" } });
  expect(made.status, JSON.stringify(made.json)).toBe(201);
  const { key } = await s.stack.admin<{ key: string }>("/admin/v1/keys", { tenant_id: t.id, scopes: ["jobs"] });
  jobsOnlyClient = new OpenAI({ apiKey: key, baseURL: `${s.stack.url}/v1`, maxRetries: 0 });
}, 90_000);
afterAll(async () => {
  await jobs?.stop();
  await s?.close();
});

describe("prompt_enhance", () => {
  it("an LLM writes the prompt; revised_prompt, the job's graph and its llm step carry it; a rerun hits the cache", async () => {
    const sentence = unique("a lighthouse");
    const request = {
      model: "sd15-chain",
      prompt: sentence,
      prompt_enhance: { model: "gpt-test", instruction: "Write an image prompt." },
    };
    const first = await client.images.generate(request as never).withResponse();
    const written = first.data.data![0]!.revised_prompt!;
    expect(written).toMatch(new RegExp(`^primary#\\d+: ${sentence}$`));
    const sent = forwarded(s.log, sentence);
    expect(sent).toHaveLength(1);
    expect((sent[0]!.body as { messages: unknown[] }).messages[0]).toEqual({
      role: "system",
      content: "Write an image prompt.",
    });
    const jobId = first.response.headers.get("x-job-id")!;
    const served = jobs.served.find((x) => x.grant.job.id === jobId)!;
    expect((served.grant.job.workflow as Record<string, { inputs: Record<string, unknown> }>)["6"]!.inputs.text).toBe(
      written,
    );
    const job = await call(`/v1/jobs/${jobId}`);
    expect(job.json.steps).toEqual([
      {
        type: "llm",
        model: "gpt-test",
        usage: expect.objectContaining({ total_tokens: expect.any(Number) }),
        cache: "MISS",
        output: written,
      },
    ]);
    expect(first.data.usage?.total_tokens).toBe(job.json.steps[0].usage.total_tokens);
    expect(first.data.usage?.total_tokens).toBeGreaterThan(0);

    const second = await client.images.generate(request as never).withResponse();
    expect(second.data.data![0]!.revised_prompt).toBe(written);
    expect(forwarded(s.log, sentence)).toHaveLength(1);
    const job2 = await call(`/v1/jobs/${second.response.headers.get("x-job-id")}`);
    expect(job2.json.steps[0].cache).toBe("HIT");
  });

  it('a template run input given as {"llm": {...}} is written by the LLM first, one job with the step', async () => {
    const ask = unique("describe a castle");
    const run = await call("/v1/templates/t2i/runs", {
      body: { inputs: { prompt: { llm: { model: "gpt-test", instruction: ask } }, seed: 3 } },
    });
    expect(run.status, JSON.stringify(run.json)).toBe(202);
    const written = run.json.steps[0].output as string;
    expect(written).toMatch(new RegExp(`^primary#\\d+: ${ask}$`));
    expect(run.json.steps[0]).toMatchObject({ type: "llm", model: "gpt-test", cache: "MISS" });
    expect(run.json.template.inputs.prompt).toBe(written);
    await expect.poll(() => jobs.served.some((x) => x.grant.job.id === run.json.id)).toBe(true);
    const served = jobs.served.find((x) => x.grant.job.id === run.json.id)!;
    expect((served.grant.job.workflow as Record<string, { inputs: Record<string, unknown> }>)["6"]!.inputs.text).toBe(
      written,
    );

    const bad = await call("/v1/templates/t2i/runs", { body: { inputs: { prompt: { llm: { model: "gpt-test" } } } } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toMatch(/^inputs\.prompt/);
  });

  it("needs the key's llm scope; an unknown LLM model is a typed 404 naming prompt_enhance.model", async () => {
    const e1 = await jobsOnlyClient.images
      .generate({ model: "sd15-chain", prompt: "x", prompt_enhance: { model: "gpt-test" } } as never)
      .catch((e) => e);
    expect(e1).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(e1.param).toBe("prompt_enhance");
    const e2 = await client.images
      .generate({ model: "sd15-chain", prompt: "x", prompt_enhance: { model: "no-such-llm" } } as never)
      .catch((e) => e);
    expect(e2).toBeInstanceOf(OpenAI.NotFoundError);
    expect(e2.code).toBe("model_not_found");
    expect(e2.param).toBe("prompt_enhance.model");
  });
});
