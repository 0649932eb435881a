/**
 * Upstream errors as clients see them: no internal URLs, paths or tracebacks in the message, and one
 * round of retries (the gateway's), since every final upstream error says `x-should-retry: false` to
 * the official `openai` SDK, used here with its default retry policy.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forwarded, type LlmStack, post, startLlmStack, type Tenant, unique } from "./fixtures.ts";

let s: LlmStack;
let t: Tenant;
/** The SDK as users have it: default retries (2), so a retryable answer without the header is sent 3 times. */
let retrying: OpenAI;

beforeAll(async () => {
  s = await startLlmStack();
  t = await s.tenant();
  retrying = new OpenAI({ apiKey: t.key, baseURL: `${s.stack.url}/v1`, timeout: 30_000 });
}, 60_000);
afterAll(() => s?.close());

const LEAKY = [
  "Traceback (most recent call last):",
  '  File "/home/gpu/.venv/lib/python3.11/site-packages/vllm/entrypoints/openai/serving_chat.py", line 212, in create',
  "    raise ValueError(msg)",
  "ValueError: max_tokens is too large: 100000 > 8192 (engine http://10.1.2.3:8000/v1, weights /models/llama/model.safetensors)",
].join("\n");

function chat(model: string, text: string, testDouble: Record<string, unknown>) {
  return { model, messages: [{ role: "user" as const, content: text }], test_double: testDouble };
}

async function failure(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

describe("upstream error text", () => {
  it("reaches the client without internal URLs, paths or tracebacks", async () => {
    for (const status of [400, 500]) {
      const text = unique("leaky");
      const res = await post(s.stack, t.key, chat("vision-large", text, { primary: { status, message: LEAKY } }));
      const body = await res.text();
      expect(res.status).toBe(status === 400 ? 400 : 502);
      const message = (JSON.parse(body) as { error: { message: string } }).error.message;
      expect(message).toContain("ValueError: max_tokens is too large: 100000 > 8192 (engine [url] weights [path])");
      for (const leak of ["10.1.2.3", "/home/gpu", ".venv", "serving_chat.py", "line 212", "Traceback", "/models/"]) {
        expect(body).not.toContain(leak);
      }
      expect(forwarded(s.log, text).length).toBeGreaterThan(0);
    }
  });
});

describe("retries are the gateway's alone", () => {
  it("a failing upstream is called once per gateway attempt, not again for each SDK retry", async () => {
    const text = unique("retry-storm");
    // flaky-* is served by primary then secondary, each with 2 retries: 6 calls by the gateway.
    const err = await failure(
      retrying.chat.completions.create(
        chat("flaky-model", text, { "*": { status: 500 } }) as OpenAI.ChatCompletionCreateParamsNonStreaming,
      ),
    );
    expect(err.status).toBe(502);
    expect(err.headers?.get("x-should-retry")).toBe("false");
    expect(forwarded(s.log, text)).toHaveLength(6);
  });

  it("the same for a timed-out upstream and for every upstream rate limiting", async () => {
    const slow = unique("slow");
    const timeout = await failure(
      retrying.chat.completions.create(
        chat("slow-model", slow, { primary: { delayMs: 3000 } }) as OpenAI.ChatCompletionCreateParamsNonStreaming,
      ),
    );
    expect(timeout.status).toBe(504);
    expect(forwarded(s.log, slow)).toHaveLength(1);

    const limited = unique("limited");
    const rate = await failure(
      retrying.chat.completions.create(
        chat("vision-large", limited, {
          primary: { status: 429, retryAfter: "30" },
        }) as OpenAI.ChatCompletionCreateParamsNonStreaming,
      ),
    );
    expect(rate.status).toBe(429);
    expect(rate.code).toBe("upstream_rate_limited");
    expect(rate.headers?.get("x-should-retry")).toBe("false");
    // A Retry-After over 5 s moves on instead of waiting: one call, and no SDK retries after it.
    expect(forwarded(s.log, limited)).toHaveLength(1);
  });
});
