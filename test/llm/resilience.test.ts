/**
 * Upstream failures: retries with backoff, fallback by priority, timeouts, streams failing after the
 * first byte (always ending with an error event), secrets never echoed, broken configuration.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack } from "../harness/stack.ts";
import { forwarded, type LlmStack, post, SECONDARY_KEY, sdk, startLlmStack, type Tenant, unique } from "./fixtures.ts";

let s: LlmStack;
let t: Tenant;

beforeAll(async () => {
  s = await startLlmStack();
  t = await s.tenant();
}, 60_000);
afterAll(() => s?.close());

function chat(model: string, text: string, testDouble: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { model, messages: [{ role: "user" as const, content: text }], test_double: testDouble, ...extra };
}

/** Reads an SDK stream to its end; returns the content received and the error it ended with. */
async function drain(
  stream: AsyncIterable<OpenAI.ChatCompletionChunk>,
): Promise<{ content: string; error: InstanceType<typeof OpenAI.APIError> | null }> {
  let content = "";
  try {
    for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? "";
  } catch (err) {
    if (err instanceof OpenAI.APIError) return { content, error: err };
    throw err;
  }
  return { content, error: null };
}

describe("retries and fallback", () => {
  it("retries the primary, then falls back to the next upstream by priority, with its own key", async () => {
    const text = unique("fallback");
    const answer = await t.client.chat.completions.create(
      chat("flaky-model", text, { primary: { status: 503 } }) as OpenAI.ChatCompletionCreateParamsNonStreaming,
    );
    expect(answer.choices[0]!.message.content).toMatch(/^secondary#/);
    const sent = forwarded(s.log, text);
    expect(sent.map((r) => r.double)).toEqual(["primary", "primary", "primary", "secondary"]);
    expect(sent[0]!.headers.authorization).toBeUndefined();
    expect(sent[3]!.headers.authorization).toBe(`Bearer ${SECONDARY_KEY}`);
    // Backoff between the primary's attempts.
    expect(sent[2]!.at - sent[0]!.at).toBeGreaterThanOrEqual(100);
  });

  it("recovers on the same upstream when a retry succeeds (connection errors, 429 and 5xx)", async () => {
    for (const status of [429, 500, 502]) {
      const text = unique(`retry ${status}`);
      const answer = await t.client.chat.completions.create(
        chat("flaky-model", text, {
          primary: { status, failTimes: 1, id: text, retryAfter: "0" },
        }) as OpenAI.ChatCompletionCreateParamsNonStreaming,
      );
      expect(answer.choices[0]!.message.content).toMatch(/^primary#/);
      expect(forwarded(s.log, text).map((r) => r.double)).toEqual(["primary", "primary"]);
    }
    const dropped = unique("dropped");
    const answer = await t.client.chat.completions.create(
      chat("flaky-model", dropped, {
        primary: { disconnectAfterChunks: 0, failTimes: 1, id: dropped },
      }) as OpenAI.ChatCompletionCreateParamsNonStreaming,
    );
    // A non-stream request to a server that drops the connection before answering: retried.
    expect(answer.choices[0]!.message.content).toBeTruthy();
  });

  it("passes the upstream's refusal of the request itself through with its status (400, 413, 422), no retry or fallback", async () => {
    for (const status of [400, 413, 422]) {
      const text = unique("refused");
      const err = await t.client.chat.completions
        .create(
          chat("flaky-model", text, {
            primary: { status, message: "This model's maximum context length is 4096 tokens", param: "max_tokens" },
          }) as OpenAI.ChatCompletionCreateParamsNonStreaming,
        )
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(status === 400 ? OpenAI.BadRequestError : OpenAI.APIError);
      const apiErr = err as InstanceType<typeof OpenAI.APIError>;
      expect(apiErr.status).toBe(status);
      expect(apiErr.code).toBe("upstream_invalid_request");
      expect(apiErr.type).toBe("invalid_request_error");
      expect(apiErr.param).toBe("max_tokens");
      expect(apiErr.message).toContain("maximum context length is 4096 tokens");
      expect(apiErr.error).toMatchObject({ upstream: "primary", upstream_status: status });
      expect(apiErr.headers?.get("x-should-retry")).toBe("false");
      expect(forwarded(s.log, text)).toHaveLength(1);
    }
  });

  it("never repeats the upstream's key or other credentials in errors", async () => {
    const text = unique("leaky");
    const res = await post(
      s.stack,
      t.key,
      chat("fallback-small", text, { secondary: { status: 500, echoAuthorization: true } }),
    );
    const body = await res.text();
    expect(res.status).toBe(502);
    expect(body).toContain("[redacted]");
    expect(body).not.toContain(SECONDARY_KEY);
    expect(body).not.toContain(t.key);
    expect(forwarded(s.log, text)[0]!.headers.authorization).toBe(`Bearer ${SECONDARY_KEY}`);
  });
});

describe("streams that fail after the first byte", () => {
  it("ends a stream whose upstream disconnects with an error event", async () => {
    const stream = await t.client.chat.completions.create({
      ...(chat("vision-large", unique("drop"), { primary: { disconnectAfterChunks: 3 } }) as object),
      stream: true,
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    const { content, error } = await drain(stream);
    expect(content.length).toBeGreaterThan(0);
    expect(error?.code).toBe("upstream_error");
  });

  it("ends a stalled stream with upstream_timeout after the upstream's timeout", async () => {
    const stream = await t.client.chat.completions.create({
      ...(chat("slow-model", unique("stall"), { primary: { stallAfterChunks: 2 } }) as object),
      stream: true,
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    const { content, error } = await drain(stream);
    expect(content.length).toBeGreaterThan(0);
    expect(error?.code).toBe("upstream_timeout");
  });

  it("re-issues an upstream error event in our envelope", async () => {
    const res = await post(s.stack, t.key, {
      ...chat("vision-large", unique("crash"), { primary: { errorEventAfterChunks: 2 } }),
      stream: true,
    });
    const text = await res.text();
    const events = text.split("\n\n").filter(Boolean);
    const last = JSON.parse(events.at(-1)!.replace(/^data: /, "")) as { error: Record<string, unknown> };
    expect(last.error).toMatchObject({ type: "upstream_error", code: "upstream_error", upstream: "primary" });
    expect(last.error.message).toContain("model crashed");
    expect(last.error.request_id).toBe(res.headers.get("x-request-id"));
  });

  it("replays a JSON answer as a stream when the upstream ignores stream: true", async () => {
    const text = unique("ignore");
    const final = await t.client.chat.completions
      .stream(
        chat(
          "vision-large",
          text,
          { primary: { ignoreStream: true } },
          { stream: true },
        ) as unknown as OpenAI.ChatCompletionCreateParamsStreaming,
      )
      .finalChatCompletion();
    expect(final.choices[0]!.message.content).toContain(text);
  });
});

describe("configuration errors", () => {
  it("answers 503 llm_not_configured for a broken LLM_UPSTREAMS or a missing upstream secret", async () => {
    const broken = await startStack({
      vars: {
        LLM_UPSTREAMS: JSON.stringify([{ name: "x", base_url: "ftp://nope", models: ["*"] }]),
      },
    });
    const missing = await startStack({
      vars: {
        LLM_UPSTREAMS: JSON.stringify([
          { name: "x", base_url: "https://llm.example.com/v1", api_key_secret: "NOT_SET", models: ["*"] },
        ]),
      },
    });
    try {
      for (const stack of [broken, missing]) {
        const tenant = await stack.admin<{ id: string }>("/admin/v1/tenants", { name: "cfg" });
        const { key } = await stack.admin<{ key: string }>("/admin/v1/keys", { tenant_id: tenant.id, scopes: ["llm"] });
        const err = await sdk(stack.url, key)
          .chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] })
          .then(
            () => null,
            (e: unknown) => e,
          );
        expect(err).toBeInstanceOf(OpenAI.InternalServerError);
        expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
        expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("llm_not_configured");
      }
    } finally {
      await Promise.all([broken.close(), missing.close()]);
    }
  }, 60_000);
});
