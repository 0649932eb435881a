/**
 * Raw jobs with inputs written by an LLM (docs/images.md "Chains"): `{"llm": {...}}` at
 * workflow.<node>.inputs.<name> runs through the gateway's own LLM proxy (an OpenAI-style upstream double)
 * before the job is queued; the runner gets the answer, the job records the step, its SSE stream starts
 * with an `llm` event, and an identical second job is answered by the LLM cache.
 */

import { JobLlmEvent } from "@comfy-edge/shared/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, ensurePool, readSse, runnerToken, ScriptedRunner } from "../harness/api.ts";
import { png, serveJobs, T2I } from "../images/fixtures.ts";
import { forwarded, type LlmStack, startLlmStack, unique } from "../llm/fixtures.ts";

let s: LlmStack;
let jobs: ReturnType<typeof serveJobs>;
let key: string;
let call: ReturnType<typeof api>;
let jobsOnly: ReturnType<typeof api>;

beforeAll(async () => {
  s = await startLlmStack();
  await ensurePool(s.stack, "rawchain");
  jobs = serveJobs(new ScriptedRunner(s.stack, await runnerToken(s.stack, "rawchain")));
  const t = await s.tenant({ default_pool: "rawchain" }, { scopes: ["llm", "jobs"] });
  key = t.key;
  call = api(s.stack, t.key);
  const only = await s.stack.admin<{ key: string }>("/admin/v1/keys", { tenant_id: t.id, scopes: ["jobs"] });
  jobsOnly = api(s.stack, only.key);
}, 90_000);
afterAll(async () => {
  await jobs?.stop();
  await s?.close();
});

type Wf = Record<string, { class_type: string; inputs: Record<string, unknown> }>;
const withText = (text: unknown, extra: Record<string, unknown> = {}) => ({
  workflow: { ...T2I, "6": { ...T2I["6"], inputs: { ...T2I["6"].inputs, text } } },
  ...extra,
});
const events = async (id: string) =>
  (await readSse(`${s.stack.url}/v1/jobs/${id}/events`, key, { until: (e) => e.event === "succeeded" })).events;

describe("raw jobs with {llm} inputs", () => {
  it("the LLM writes the input before queueing: the runner gets the answer, the job its step and an llm event; a rerun hits the cache", async () => {
    const ask = unique("describe a harbour at dawn");
    const body = withText({ llm: { model: "gpt-test", instruction: ask } });
    const first = await call("/v1/jobs", { body });
    expect(first.status, JSON.stringify(first.json)).toBe(202);
    const written = first.json.steps[0].output as string;
    expect(written).toMatch(new RegExp(`^primary#\\d+: ${ask}$`));
    expect(first.json.steps).toEqual([
      {
        type: "llm",
        model: "gpt-test",
        usage: expect.objectContaining({ total_tokens: expect.any(Number) }),
        cache: "MISS",
        output: written,
      },
    ]);
    expect(first.json.steps[0].usage.total_tokens).toBeGreaterThan(0);
    const sent = forwarded(s.log, ask);
    expect(sent).toHaveLength(1);
    expect((sent[0]!.body as { messages: unknown[] }).messages).toEqual([{ role: "user", content: ask }]);

    await expect.poll(() => jobs.served.some((x) => x.grant.job.id === first.json.id)).toBe(true);
    const served = jobs.served.find((x) => x.grant.job.id === first.json.id)!;
    expect((served.grant.job.workflow as Wf)["6"]!.inputs.text).toBe(written);
    expect((await call(`/v1/jobs/${first.json.id}`)).json.steps[0].output).toBe(written);

    const stream = await events(first.json.id);
    expect(stream.map((e) => e.event).slice(0, 2)).toEqual(["llm", "queued"]);
    expect(stream[0]!.id).toBe("1");
    JobLlmEvent.parse(stream[0]!.data);
    expect(stream[0]!.data).toEqual({
      sequence: 1,
      type: "llm",
      at: expect.any(String),
      model: "gpt-test",
      usage: first.json.steps[0].usage,
      cache: "MISS",
      output: written,
    });

    // The same graph again (fixed seed): the output cache answers the job at once, the LLM cache its step.
    const second = await call("/v1/jobs", { body });
    expect(second.status).toBe(200);
    expect(second.json.cached_from).toBe(first.json.id);
    expect(second.json.steps[0]).toMatchObject({ cache: "HIT", output: written });
    expect(forwarded(s.log, ask)).toHaveLength(1);
    const again = await events(second.json.id);
    expect(again[0]).toMatchObject({ event: "llm", data: { cache: "HIT", output: written } });
  });

  it("sends an image to a vision model with the instruction", async () => {
    const ask = unique("describe this sketch");
    const image = `data:image/png;base64,${Buffer.from(png("sketch")).toString("base64")}`;
    const res = await call("/v1/jobs", { body: withText({ llm: { model: "vision-large", instruction: ask, image } }) });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    const sent = forwarded(s.log, ask);
    expect(sent).toHaveLength(1);
    expect((sent[0]!.body as { messages: unknown[] }).messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: ask },
          { type: "image_url", image_url: { url: image } },
        ],
      },
    ]);
  });

  it("replays an Idempotency-Key retry without a second job", async () => {
    const ask = unique("a quiet street");
    const body = withText({ llm: { model: "gpt-test", instruction: ask } });
    const headers = { "idempotency-key": unique("idem").replace(" ", "-") };
    const first = await call("/v1/jobs", { body, headers });
    const retry = await call("/v1/jobs", { body, headers });
    expect(first.status).toBe(202);
    expect(retry.json.id).toBe(first.json.id);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
  });

  it("answers bad {llm} values with a 4xx naming the input, before any LLM call", async () => {
    const missing = await call("/v1/jobs", { body: withText({ llm: { model: "gpt-test" } }) });
    expect(missing.status).toBe(400);
    expect(missing.json.error.param).toMatch(/^workflow\.6\.inputs\.text\.llm/);

    const ask = unique("never asked");
    const five = {
      workflow: {
        ...withText({ llm: { model: "gpt-test", instruction: ask } }).workflow,
        ...Object.fromEntries(
          [20, 21, 22, 23].map((n) => [
            String(n),
            {
              class_type: "CLIPTextEncode",
              inputs: { clip: ["4", 1], text: { llm: { model: "gpt-test", instruction: ask } } },
            },
          ]),
        ),
      },
    };
    const tooMany = await call("/v1/jobs", { body: five });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.code).toBe("too_many_llm_inputs");
    expect(tooMany.json.error.param).toBe("workflow.23.inputs.text");

    const noOutput = { workflow: { "6": withText({ llm: { model: "gpt-test", instruction: ask } }).workflow["6"] } };
    const invalid = await call("/v1/jobs", { body: noOutput });
    expect(invalid.status).toBe(422);
    expect(forwarded(s.log, ask)).toHaveLength(0);

    const unknown = await call("/v1/jobs", { body: withText({ llm: { model: "no-such-llm", instruction: ask } }) });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatchObject({ code: "model_not_found", param: "workflow.6.inputs.text.llm.model" });

    const scope = await jobsOnly("/v1/jobs", { body: withText({ llm: { model: "gpt-test", instruction: ask } }) });
    expect(scope.status).toBe(403);
    expect(scope.json.error.param).toBe("workflow.6.inputs.text.llm");
  });
});
