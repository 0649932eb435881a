/**
 * `POST /v1/embeddings` and `POST /v1/completions` through the official `openai` SDK: routing by model,
 * retries and fallback, the KV cache (embeddings always; completions when deterministic), usage, and
 * errors as the SDK's typed errors with our codes.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forwarded, type LlmStack, startLlmStack, type Tenant, unique } from "./fixtures.ts";
import { vectorOf } from "./upstream-double-routes.ts";

let s: LlmStack;
let t: Tenant;

beforeAll(async () => {
  s = await startLlmStack();
  t = await s.tenant();
}, 60_000);
afterAll(() => s?.close());

async function failure(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

describe("POST /v1/embeddings", () => {
  it("answers in OpenAI's format (the SDK's default base64 and floats) and caches: one upstream call", async () => {
    const text = unique("embed me");
    const first = await t.client.embeddings.create({ model: "gpt-test", input: [text, "second"] }).withResponse();
    expect(first.response.headers.get("x-cache")).toBe("MISS");
    expect(first.data.data).toHaveLength(2);
    const expected = vectorOf(text);
    for (const [i, x] of first.data.data[0]!.embedding.entries()) expect(x).toBeCloseTo(expected[i]!, 6);
    expect(first.data.usage.prompt_tokens).toBeGreaterThan(0);

    const again = await t.client.embeddings.create({ model: "gpt-test", input: [text, "second"] }).withResponse();
    expect(again.response.headers.get("x-cache")).toBe("HIT");
    expect(again.data.data[0]!.embedding).toEqual(first.data.data[0]!.embedding);
    const floats = await t.client.embeddings
      .create({ model: "gpt-test", input: text, encoding_format: "float" })
      .withResponse();
    expect(floats.response.headers.get("x-cache")).toBe("MISS");
    for (const [i, x] of floats.data.data[0]!.embedding.entries()) expect(x).toBeCloseTo(expected[i]!, 6);
    expect(forwarded(s.log, text).map((r) => `${r.double} ${r.path}`)).toEqual([
      "primary /v1/embeddings",
      "primary /v1/embeddings",
    ]);
  });

  it("routes by model, retries and falls back like chat", async () => {
    const text = unique("fallback embed");
    const answer = await t.client.embeddings.create({
      model: "flaky-embed",
      input: text,
      // @ts-expect-error test_double: a field the gateway forwards untouched, read by the double
      test_double: { primary: { status: 503 } },
    });
    expect(answer.data).toHaveLength(1);
    expect(forwarded(s.log, text).map((r) => r.double)).toEqual(["primary", "primary", "primary", "secondary"]);
  });

  it("refuses bad requests and unknown models with our codes", async () => {
    const bad = await failure(t.client.embeddings.create({ model: "gpt-test", input: [] }));
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bad.code).toBe("invalid_request");
    expect(bad.param).toBe("input");
    const unknown = await failure(t.client.embeddings.create({ model: "nope", input: "x" }));
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknown.code).toBe("model_not_found");
    const refused = await failure(
      t.client.embeddings.create({
        model: "gpt-test",
        input: unique("too long"),
        // @ts-expect-error test_double
        test_double: {
          primary: { status: 400, message: "input is too long for /srv/models/e5 (http://10.0.0.9:8000)" },
        },
      }),
    );
    expect(refused.status).toBe(400);
    expect(refused.code).toBe("upstream_invalid_request");
    expect(refused.message).toContain("input is too long for [path] ([url])");
  });
});

describe("POST /v1/completions", () => {
  it("answers, caches deterministic requests, and streams", async () => {
    const prompt = unique("Once upon a time");
    const plain = await t.client.completions.create({ model: "gpt-test", prompt, max_tokens: 20 }).withResponse();
    expect(plain.response.headers.get("x-cache")).toBe("BYPASS");
    expect(plain.data.choices[0]!.text).toMatch(new RegExp(`^primary#\\d+: ${prompt}$`));
    expect(plain.data.usage?.total_tokens).toBeGreaterThan(0);

    const greedy = { model: "gpt-test", prompt, temperature: 0 } as const;
    const miss = await t.client.completions.create(greedy).withResponse();
    const hit = await t.client.completions.create(greedy).withResponse();
    expect([miss.response.headers.get("x-cache"), hit.response.headers.get("x-cache")]).toEqual(["MISS", "HIT"]);
    expect(hit.data.id).toBe(miss.data.id);

    const stream = await t.client.completions.create({
      model: "gpt-test",
      prompt,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toMatch(new RegExp(`^primary#\\d+: ${prompt}$`));
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(forwarded(s.log, prompt).map((r) => r.path)).toEqual([
      "/v1/completions",
      "/v1/completions",
      "/v1/completions",
    ]);
  });

  it("falls back, and says x-should-retry: false after the gateway's own retries", async () => {
    const prompt = unique("fallback");
    const answer = await t.client.completions
      .create({
        model: "fallback-small",
        prompt,
        test_double: { secondary: { status: 500 } },
      } as OpenAI.CompletionCreateParamsNonStreaming)
      .then(
        () => null,
        (err: unknown) => err as InstanceType<typeof OpenAI.APIError>,
      );
    expect(answer?.status).toBe(502);
    expect(answer?.headers?.get("x-should-retry")).toBe("false");
    expect(forwarded(s.log, prompt)).toHaveLength(3);
  });
});

describe("usage", () => {
  it("counts embeddings and completions with their tokens, and cache hits", async () => {
    const own = await s.tenant();
    const text = unique("usage");
    await own.client.embeddings.create({ model: "gpt-test", input: text });
    await own.client.embeddings.create({ model: "gpt-test", input: text });
    await own.client.completions.create({ model: "gpt-test", prompt: text });
    await expect
      .poll(
        async () => {
          const res = await fetch(`${s.stack.url}/v1/usage`, { headers: { authorization: `Bearer ${own.key}` } });
          const body = (await res.json()) as { key: { totals: Record<string, number> } };
          return body.key.totals;
        },
        { timeout: 30_000, interval: 500 },
      )
      .toMatchObject({ llm_requests: 3, cache_hits: 1 });
  });
});
