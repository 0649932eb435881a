/**
 * The LLM proxy through the official `openai` SDK against the gateway on workerd: chat, streaming,
 * vision under the URL guard, tool calls, and every error as the SDK's typed error with our code.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forwarded, IMAGE_HOST, type LlmStack, post, sdk, startLlmStack, type Tenant, unique } from "./fixtures.ts";

// A 1x1 PNG.
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

let s: LlmStack;
let t: Tenant;

beforeAll(async () => {
  s = await startLlmStack();
  t = await s.tenant();
}, 60_000);
afterAll(() => s?.close());

/** Runs the promise and returns what it rejected with (fails if it resolved). */
async function rejection(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

describe("chat completions", () => {
  it("answers a chat and forwards the body untouched, without the client's key", async () => {
    const text = unique("hello");
    const body = {
      model: "gpt-test",
      messages: [{ role: "user" as const, content: text }],
      max_tokens: 100,
      response_format: { type: "json_object" as const },
      guided_json: { type: "object" },
      user: "u-1",
    };
    const { data, response } = await t.client.chat.completions.create(body).withResponse();
    expect(data.choices[0]!.message.content).toMatch(new RegExp(`^primary#\\d+: ${text}$`));
    expect(data.usage?.total_tokens).toBeGreaterThan(0);
    expect(response.headers.get("x-cache")).toBe("BYPASS");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const [sent] = forwarded(s.log, text);
    expect(sent!.double).toBe("primary");
    expect(sent!.body).toEqual(body);
    expect(sent!.headers.authorization).toBeUndefined();
    expect(JSON.stringify(sent!.headers)).not.toContain(t.key);
    expect(sent!.headers["x-request-id"]).toBe(response.headers.get("x-request-id"));
  });

  it("streams chunk by chunk, asks the upstream for usage and drops it when the client did not ask", async () => {
    const text = unique("stream");
    const stream = await t.client.chat.completions.create({
      model: "gpt-test",
      stream: true,
      messages: [{ role: "user", content: text }],
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
    const content = chunks.map((c) => c.choices[0]!.delta.content ?? "").join("");
    expect(content).toMatch(new RegExp(`^primary#\\d+: ${text}$`));
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("stop");
    const [sent] = forwarded(s.log, text);
    expect(sent!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });

    const withUsage = await t.client.chat.completions.create({
      model: "gpt-test",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: unique("usage") }],
    });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of withUsage) if (chunk.usage) usage = chunk.usage;
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("passes tool calls through, plain and streamed", async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: "function",
        function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
      },
    ];
    const toolCall = { name: "get_weather", arguments: '{"city":"Paris","unit":"celsius"}' };
    const plain = await t.client.chat.completions.create({
      model: "tool-model",
      tools,
      messages: [{ role: "user", content: unique("weather") }],
      // @ts-expect-error pass-through field read by the upstream double
      test_double: { primary: { toolCall } },
    });
    expect(plain.choices[0]!.finish_reason).toBe("tool_calls");
    expect(plain.choices[0]!.message.tool_calls?.[0]).toMatchObject({ type: "function", function: toolCall });

    const text = unique("weather stream");
    const runner = t.client.chat.completions.stream({
      model: "tool-model",
      tools,
      messages: [{ role: "user", content: text }],
      // pass-through field read by the upstream double (the stream helper's params are open)
      test_double: { primary: { toolCall } },
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.message.tool_calls?.[0]).toMatchObject({ type: "function", function: toolCall });
    expect(forwarded(s.log, text)[0]!.body!.tools).toEqual(tools);
  });

  it("forwards vision requests whose image URLs pass the URL guard", async () => {
    const text = unique("describe");
    const url = `https://${IMAGE_HOST}/cat.png`;
    const dataUrl = `data:image/png;base64,${PNG}`;
    const answer = await t.client.chat.completions.create({
      model: "vision-large",
      max_tokens: 300,
      temperature: 0.2,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text },
            { type: "image_url", image_url: { url, detail: "high" } },
            { type: "image_url", image_url: { url: dataUrl, detail: "low" } },
          ],
        },
      ],
    });
    expect(answer.choices[0]!.message.content).toContain(text);
    const parts = (forwarded(s.log, text)[0]!.body!.messages as { content: unknown[] }[])[0]!.content;
    expect(parts[1]).toEqual({ type: "image_url", image_url: { url, detail: "high" } });
    expect(parts[2]).toEqual({ type: "image_url", image_url: { url: dataUrl, detail: "low" } });
  });

  it("refuses unsafe and unlisted image URLs before anything is forwarded", async () => {
    const cases = [
      { url: "http://169.254.169.254/latest/meta-data/", code: "unsafe_url" },
      { url: "https://127.0.0.1/x.png", code: "unsafe_url" },
      { url: "https://elsewhere.example.org/x.png", code: "url_not_allowed" },
      { url: `data:image/png;base64,${"A".repeat(15 * 1024 * 1024)}`, code: "unsafe_url" },
    ];
    for (const { url, code } of cases) {
      const text = unique("blocked");
      const err = await rejection(
        t.client.chat.completions.create({
          model: "vision-large",
          messages: [
            { role: "system", content: "You describe images." },
            {
              role: "user",
              content: [
                { type: "text", text },
                { type: "image_url", image_url: { url } },
              ],
            },
          ],
        }),
      );
      expect(err).toBeInstanceOf(OpenAI.UnprocessableEntityError);
      expect(err.code).toBe(code);
      expect(err.param).toBe("messages[1].content[1].image_url.url");
      expect(forwarded(s.log, text)).toHaveLength(0);
    }
  });

  it("rejects content parts that would make the LLM server fetch URLs the guard never saw", async () => {
    const res = await post(s.stack, t.key, {
      model: "vision-large",
      messages: [{ role: "user", content: [{ type: "video_url", video_url: { url: "http://10.0.0.1/v.mp4" } }] }],
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe("messages[0].content[0].type");
  });

  it("lists the configured models, asking wildcard upstreams for theirs", async () => {
    const list = await t.client.models.list();
    const ids = list.data.map((m) => `${m.id}:${m.owned_by}`);
    // Exact names from the config; wildcard upstreams' own lists filtered by their patterns.
    expect(ids).toEqual(["fallback-small:secondary", "gpt-test:primary", "vision-large:primary"]);
  });
});

describe("errors surface as the SDK's typed errors with our codes", () => {
  it("400 invalid_request with the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ temperature: 3 }, "temperature"],
      [{ max_tokens: 40_000 }, "max_tokens"],
      [{ top_p: 1.5 }, "top_p"],
      [{ n: 0 }, "n"],
      [{ messages: [] }, "messages"],
      [
        { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x", detail: "max" } }] }] },
        "messages[0].content[0].image_url.detail",
      ],
      [{ messages: [{ role: "user", content: [{ type: "text", text: 5 }] }] }, "messages[0].content[0].text"],
      [{ tools: [{ type: "function", function: {} }] }, "tools[0].function.name"],
      [{ model: "" }, "model"],
    ];
    for (const [patch, param] of cases) {
      const err = await rejection(
        t.client.chat.completions.create({
          model: "gpt-test",
          messages: [{ role: "user", content: "hi" }],
          ...patch,
        } as OpenAI.ChatCompletionCreateParamsNonStreaming),
      );
      expect(err, param).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.code).toBe("invalid_request");
      expect(err.param).toBe(param);
    }
    const ttl = await post(
      s.stack,
      t.key,
      { model: "gpt-test", temperature: 0, messages: [{ role: "user", content: "x" }] },
      { "x-cache-ttl": "30" },
    );
    expect(ttl.status).toBe(400);
    expect(((await ttl.json()) as { error: { param: string } }).error.param).toBe("x-cache-ttl");
  });

  it("401 invalid_api_key and 403 insufficient_scope", async () => {
    const bad = sdk(s.stack.url, "ce_sk_notavalidkey00000000000000000");
    const err = await rejection(
      bad.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "x" }] }),
    );
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.code).toBe("invalid_api_key");

    const tenant = await s.stack.admin<{ id: string }>("/admin/v1/tenants", { name: "jobs-only" });
    const { key } = await s.stack.admin<{ key: string }>("/admin/v1/keys", { tenant_id: tenant.id, scopes: ["jobs"] });
    const denied = await rejection(
      sdk(s.stack.url, key).chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "x" }] }),
    );
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(denied.code).toBe("insufficient_scope");
  });

  it("404 model_not_found", async () => {
    const err = await rejection(
      t.client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }),
    );
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.code).toBe("model_not_found");
    expect(err.param).toBe("model");
  });

  it("429 rate_limited for the key, 429 upstream_rate_limited when every upstream is", async () => {
    const limited = await s.tenant({}, { requests_per_minute: 1 });
    await limited.client.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "x" }] });
    const err = await rejection(
      limited.client.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "x" }] }),
    );
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe("rate_limited");

    const text = unique("busy");
    const upstream = await rejection(
      t.client.chat.completions.create({
        model: "fallback-small",
        messages: [{ role: "user", content: text }],
        // @ts-expect-error pass-through field read by the upstream double
        test_double: { secondary: { status: 429, retryAfter: "60", message: "slow down" } },
      }),
    );
    expect(upstream).toBeInstanceOf(OpenAI.RateLimitError);
    expect(upstream.code).toBe("upstream_rate_limited");
    expect(upstream.headers?.get("retry-after")).toBe("60");
    // A Retry-After longer than the gateway waits: no retry on that upstream.
    expect(forwarded(s.log, text)).toHaveLength(1);
  });

  it("502 upstream_error with the upstream's status and message", async () => {
    const err = await rejection(
      t.client.chat.completions.create({
        model: "fallback-small",
        messages: [{ role: "user", content: unique("broken") }],
        // @ts-expect-error pass-through field read by the upstream double
        test_double: { secondary: { status: 500, message: "CUDA out of memory" } },
      }),
    );
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(502);
    expect(err.code).toBe("upstream_error");
    expect(err.message).toContain("CUDA out of memory");
    expect(err.error).toMatchObject({ upstream: "secondary", upstream_status: 500 });
  });

  it("504 upstream_timeout", async () => {
    const err = await rejection(
      t.client.chat.completions.create({
        model: "slow-model",
        messages: [{ role: "user", content: unique("slow") }],
        // @ts-expect-error pass-through field read by the upstream double
        test_double: { primary: { delayMs: 10_000 } },
      }),
    );
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(504);
    expect(err.code).toBe("upstream_timeout");
    // The double answers after 10 s: upstream_timeout (not an answer) shows the deadline ended the wait.

    // The deadline also covers a non-stream body that stops half way.
    const stalled = await rejection(
      t.client.chat.completions.create({
        model: "slow-model",
        messages: [{ role: "user", content: unique("half") }],
        // @ts-expect-error pass-through field read by the upstream double
        test_double: { primary: { stallBody: true } },
      }),
    );
    expect(stalled.status).toBe(504);
    expect(stalled.code).toBe("upstream_timeout");
  });
});
