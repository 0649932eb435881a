/**
 * The KV answer cache through the SDK and raw HTTP: HIT/MISS/BYPASS, Cache-Control no-cache/no-store,
 * x-cache-ttl, tenant scope (and the global scope), stream/non-stream sharing, single flight, and that
 * errors and truncated streams are never cached.
 */
import type OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forwarded, type LlmStack, post, startLlmStack, type Tenant, unique } from "./fixtures.ts";

type Completion = OpenAI.ChatCompletion;

let s: LlmStack;
let t: Tenant;

beforeAll(async () => {
  s = await startLlmStack();
  t = await s.tenant();
}, 60_000);
afterAll(() => s?.close());

function ask(text: string, extra: Record<string, unknown> = {}) {
  return { model: "gpt-test", temperature: 0, messages: [{ role: "user", content: text }], ...extra };
}

async function call(
  tenant: Tenant,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ xCache: string | null; data: Completion; res: Response }> {
  const res = await post(s.stack, tenant.key, body, headers);
  expect(res.status).toBe(200);
  return { xCache: res.headers.get("x-cache"), data: (await res.json()) as Completion, res };
}

async function streamed(
  tenant: Tenant,
  body: Record<string, unknown>,
): Promise<{ xCache: string | null; content: string }> {
  const { data: stream, response } = await tenant.client.chat.completions
    .create({ ...(body as unknown as OpenAI.ChatCompletionCreateParamsStreaming), stream: true })
    .withResponse();
  let content = "";
  for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? "";
  return { xCache: response.headers.get("x-cache"), content };
}

describe("answer cache", () => {
  it("MISS then HIT for a deterministic request, one upstream call, same answer", async () => {
    const text = unique("cache me");
    const first = await call(t, ask(text));
    expect(first.xCache).toBe("MISS");
    const second = await call(t, ask(text, { user: "someone-else" }));
    expect(second.xCache).toBe("HIT");
    expect(second.data).toEqual(first.data);
    expect(second.res.headers.get("age")).toMatch(/^\d+$/);
    expect(forwarded(s.log, text)).toHaveLength(1);
    // A field that can change the answer is part of the key.
    expect((await call(t, ask(text, { response_format: { type: "json_object" } }))).xCache).toBe("MISS");
    // So is the order-insensitive canonical form: same body with keys in another order hits.
    const reordered = { messages: [{ content: text, role: "user" }], temperature: 0, model: "gpt-test" };
    expect((await call(t, reordered)).xCache).toBe("HIT");
  });

  it("caches seeded requests; bypasses sampled ones unless the tenant caches everything", async () => {
    const seeded = unique("seeded");
    expect((await call(t, ask(seeded, { temperature: 0.9, seed: 42 }))).xCache).toBe("MISS");
    expect((await call(t, ask(seeded, { temperature: 0.9, seed: 42 }))).xCache).toBe("HIT");

    const sampled = unique("sampled");
    const a = await call(t, ask(sampled, { temperature: 0.7 }));
    const b = await call(t, ask(sampled, { temperature: 0.7 }));
    expect([a.xCache, b.xCache]).toEqual(["BYPASS", "BYPASS"]);
    expect(a.data.choices[0]!.message.content).not.toBe(b.data.choices[0]!.message.content);

    const all = await s.tenant({ cache_all: true });
    const text = unique("cache all");
    expect((await call(all, ask(text, { temperature: 0.7 }))).xCache).toBe("MISS");
    expect((await call(all, ask(text, { temperature: 0.7 }))).xCache).toBe("HIT");
  });

  it("Cache-Control: no-cache skips the read but stores the fresh answer; no-store skips the write", async () => {
    const text = unique("directives");
    const first = await call(t, ask(text));
    const fresh = await call(t, ask(text), { "cache-control": "no-cache" });
    expect(fresh.xCache).toBe("BYPASS");
    expect(fresh.data.id).not.toBe(first.data.id);
    const after = await call(t, ask(text));
    expect(after.xCache).toBe("HIT");
    expect(after.data.id).toBe(fresh.data.id);

    const other = unique("no store");
    expect((await call(t, ask(other), { "cache-control": "no-store" })).xCache).toBe("MISS");
    expect((await call(t, ask(other), { "Cache-Control": "max-age=0, no-store" })).xCache).toBe("MISS");
    expect((await call(t, ask(other))).xCache).toBe("MISS");
    expect((await call(t, ask(other))).xCache).toBe("HIT");
    expect(forwarded(s.log, other)).toHaveLength(3);
  });

  it("keeps entries per tenant, under llm/v1/<tenant>/<sha256>, with the requested TTL", async () => {
    const text = unique("scoped");
    const b = await s.tenant();
    expect((await call(t, ask(text), { "x-cache-ttl": "120" })).xCache).toBe("MISS");
    expect((await call(t, ask(text))).xCache).toBe("HIT");
    expect((await call(b, ask(text))).xCache).toBe("MISS");
    expect((await call(b, ask(text))).xCache).toBe("HIT");
    expect(forwarded(s.log, text)).toHaveLength(2);

    const kv = (await s.stack.mf.getKVNamespace("LLM_CACHE", "comfy-edge-gateway")) as unknown as {
      list(options: { prefix: string }): Promise<{ keys: { name: string; expiration?: number }[] }>;
    };
    const { keys } = await kv.list({ prefix: `llm/v1/${t.id}/` });
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k.name).toMatch(new RegExp(`^llm/v1/${t.id}/[0-9a-f]{64}$`));
    const withTtl = keys.filter((k) => k.expiration && k.expiration - Date.now() / 1000 < 200);
    expect(withTtl).toHaveLength(1);
    expect(withTtl[0]!.expiration! - Date.now() / 1000).toBeGreaterThan(100);
  });

  it("shares entries between streamed and plain requests, both ways", async () => {
    const one = unique("stream first");
    const s1 = await streamed(t, ask(one));
    expect(s1.xCache).toBe("MISS");
    // Stored once the stream completed (waitUntil); until the write lands, the finished flight answers.
    const plain = await call(t, ask(one));
    expect(plain.xCache).toBe("HIT");
    expect(plain.data.choices[0]!.message.content).toBe(s1.content);
    expect(plain.data.usage?.total_tokens).toBeGreaterThan(0);

    const two = unique("plain first");
    const p1 = await call(t, ask(two));
    const s2 = await streamed(t, ask(two));
    expect(s2.xCache).toBe("HIT");
    expect(s2.content).toBe(p1.data.choices[0]!.message.content);
    // A hit replayed as a stream is a proper one: the SDK's stream helper assembles it.
    const final = await t.client.chat.completions
      .stream({ ...(ask(two) as OpenAI.ChatCompletionCreateParamsStreaming), stream_options: { include_usage: true } })
      .finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe(p1.data.choices[0]!.message.content);
    expect(final.usage?.total_tokens).toBe(p1.data.usage?.total_tokens);
  });

  it("makes one upstream call for identical concurrent misses", async () => {
    const text = unique("stampede");
    // The upstream takes 300 ms, so the requests overlap; the assertion does not depend on it.
    const body = ask(text, { test_double: { primary: { delayMs: 300 } } });
    const answers = await Promise.all(Array.from({ length: 6 }, () => call(t, body)));
    expect(forwarded(s.log, text)).toHaveLength(1);
    expect(answers.map((a) => a.xCache).sort()).toEqual(["HIT", "HIT", "HIT", "HIT", "HIT", "MISS"]);
    for (const a of answers) expect(a.data).toEqual(answers[0]!.data);
  });

  it("never caches errors or truncated streams", async () => {
    const text = unique("error");
    // vision-large is served by the primary alone: 1 try + 2 retries fail, then it heals.
    const failing = ask(text, {
      model: "vision-large",
      test_double: { primary: { status: 500, failTimes: 3, id: text } },
    });
    expect((await post(s.stack, t.key, failing)).status).toBe(502);
    expect((await call(t, failing)).xCache).toBe("MISS");
    expect((await call(t, failing)).xCache).toBe("HIT");

    const cut = unique("cut");
    const truncated = ask(cut, { test_double: { primary: { truncateAfterChunks: 2, failTimes: 1, id: cut } } });
    const res = await post(s.stack, t.key, { ...truncated, stream: true });
    expect(res.headers.get("x-cache")).toBe("MISS");
    expect(await res.text()).toContain('"code":"upstream_error"');
    expect((await call(t, truncated)).xCache).toBe("MISS");
    expect(forwarded(s.log, cut)).toHaveLength(2);
  });
});

describe("global cache scope", () => {
  let g: LlmStack;
  beforeAll(async () => {
    g = await startLlmStack({ LLM_CACHE_SCOPE: "global" });
  }, 60_000);
  afterAll(() => g?.close());

  it("shares entries across tenants when the deployment chooses it", async () => {
    const a = await g.tenant();
    const b = await g.tenant();
    const text = unique("global");
    const first = await post(g.stack, a.key, ask(text));
    expect(first.headers.get("x-cache")).toBe("MISS");
    const second = await post(g.stack, b.key, ask(text));
    expect(second.headers.get("x-cache")).toBe("HIT");
    expect(await second.json()).toEqual(await first.json());
  });
});
