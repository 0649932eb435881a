/**
 * Usage per key in D1: tokens from the upstreams' `usage` (streams included), cache hits and the tokens
 * they saved, reported by GET /v1/usage for the key and its tenant. The key's Durable Object flushes on
 * a 10 s alarm, so the test polls the endpoint (failure guard: 40 s).
 */
import type OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type LlmStack, sdk, startLlmStack, unique } from "./fixtures.ts";

interface Counts {
  requests: number;
  llm_requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cache_hits: number;
  tokens_saved: number;
}

interface Report {
  from: string;
  to: string;
  key: { key_id: string; totals: Counts; days: (Counts & { day: string })[] };
  tenant: { tenant_id: string; totals: Counts };
}

let s: LlmStack;
beforeAll(async () => {
  s = await startLlmStack();
}, 60_000);
afterAll(() => s?.close());

async function usage(key: string, query = ""): Promise<{ status: number; body: Report }> {
  const res = await fetch(`${s.stack.url}/v1/usage${query}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as Report };
}

/** Usage counts reach the report within about 10 s (key objects flush in batches): poll until `done`. */
function until(key: string, done: (r: Report) => boolean): Promise<Report> {
  return vi.waitFor(
    async () => {
      const { body } = await usage(key);
      if (!done(body)) throw new Error(`usage not matched yet: ${JSON.stringify(body)}`);
      return body;
    },
    { timeout: 40_000, interval: 250 },
  );
}

describe("GET /v1/usage", () => {
  it("counts tokens, cache hits and tokens saved per key and per tenant", async () => {
    const t = await s.tenant();
    const { key: otherKey } = await s.stack.admin<{ key: string }>("/admin/v1/keys", {
      tenant_id: t.id,
      scopes: ["llm"],
    });
    const text = unique("usage");
    const plain = await t.client.chat.completions.create({
      model: "gpt-test",
      temperature: 0,
      messages: [{ role: "user", content: text }],
    });
    const hit = await t.client.chat.completions.create({
      model: "gpt-test",
      temperature: 0,
      messages: [{ role: "user", content: text }],
    });
    expect(hit).toEqual(plain);
    let streamUsage: OpenAI.CompletionUsage | undefined;
    const stream = await t.client.chat.completions.create({
      model: "gpt-test",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: unique("streamed usage") }],
    });
    for await (const chunk of stream) if (chunk.usage) streamUsage = chunk.usage;
    const other = await sdk(s.stack.url, otherKey).chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: unique("other key") }],
    });

    const p = plain.usage!;
    const st = streamUsage!;
    const o = other.usage!;
    const report = await until(t.key, (r) => r.key.totals.llm_requests >= 3 && r.tenant.totals.llm_requests >= 4);
    expect(report.key.totals).toMatchObject({
      llm_requests: 3,
      prompt_tokens: p.prompt_tokens + st.prompt_tokens,
      completion_tokens: p.completion_tokens + st.completion_tokens,
      total_tokens: p.total_tokens + st.total_tokens,
      cache_hits: 1,
      tokens_saved: p.total_tokens,
    });
    expect(report.key.totals.requests).toBeGreaterThanOrEqual(3);
    expect(report.key.days).toHaveLength(1);
    expect(report.key.days[0]!.day).toBe(new Date().toISOString().slice(0, 10));
    expect(report.tenant.tenant_id).toBe(t.id);
    expect(report.tenant.totals).toMatchObject({
      llm_requests: 4,
      prompt_tokens: p.prompt_tokens + st.prompt_tokens + o.prompt_tokens,
      cache_hits: 1,
    });
  }, 60_000);

  it("validates the date range", async () => {
    const t = await s.tenant();
    const bad = await usage(t.key, "?from=2026-13-01");
    expect(bad.status).toBe(400);
    const reversed = await usage(t.key, "?from=2026-02-01&to=2026-01-01");
    expect(reversed.status).toBe(400);
    const empty = await usage(t.key, "?from=2020-01-01&to=2020-01-31");
    expect(empty.status).toBe(200);
    expect(empty.body.key.totals.llm_requests).toBe(0);
    expect(empty.body.key.days).toEqual([]);
  });
});
