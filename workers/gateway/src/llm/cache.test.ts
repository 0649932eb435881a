import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { cacheDirectives, isWriteRace, readEntry, writeEntry } from "./cache.ts";
import { cacheKey, canonicalJson, KEY_DENYLIST } from "./cache-key.ts";
import { SingleFlight } from "./flight.ts";
import { AnswerMemo, MAX_AGE_MS } from "./memo.ts";

describe("cache key", () => {
  it("is canonical: key order and whitespace do not matter, values do", () => {
    const a = canonicalJson({ b: [1, { y: 2, x: "é" }], a: null, c: { z: true, u: undefined } });
    const b = canonicalJson(JSON.parse('{ "c": {"z": true}, "a": null, "b": [1, {"x": "é", "y": 2}] }'));
    expect(a).toBe(b);
    expect(a).toBe('{"a":null,"b":[1,{"x":"é","y":2}],"c":{"z":true}}');
    expect(canonicalJson([3, 1])).not.toBe(canonicalJson([1, 3]));
  });

  it("ignores only stream, stream_options and user (top level)", async () => {
    const base = { model: "m", temperature: 0, messages: [{ role: "user", content: "hi", user: "kept" }] };
    const key = (body: Record<string, unknown>, tenantId: string | null = "ten_a", route = "up") =>
      cacheKey({ body, route, tenantId });
    const k = await key(base);
    expect(k).toMatch(/^llm\/v1\/ten_a\/[0-9a-f]{64}$/);
    expect(await key({ ...base, stream: true, stream_options: { include_usage: true }, user: "u" })).toBe(k);
    for (const extra of [{ response_format: { type: "json_object" } }, { guided_json: {} }, { seed: 1 }, { n: 2 }]) {
      expect(await key({ ...base, ...extra })).not.toBe(k);
    }
    expect(await key({ ...base, messages: [{ role: "user", content: "hi", user: "other" }] })).not.toBe(k);
    expect(await key(base, "ten_b")).not.toBe(k);
    expect(await key(base, null)).toMatch(/^llm\/v1\/_global\//);
    expect(await key(base, "ten_a", "other-upstream")).not.toBe(k);
    expect([...KEY_DENYLIST].sort()).toEqual(["stream", "stream_options", "user"]);
  });
});

describe("cache directives", () => {
  it("reads Cache-Control and x-cache-ttl", () => {
    expect(cacheDirectives(undefined, undefined, 3600)).toEqual({ read: true, write: true, ttlS: 3600 });
    expect(cacheDirectives("No-Cache", undefined, 3600)).toMatchObject({ read: false, write: true });
    expect(cacheDirectives("max-age=0, no-store", "60", 3600)).toEqual({ read: true, write: false, ttlS: 60 });
    for (const bad of ["59", "abc", "1.5", "-60", "99999999"]) {
      expect(() => cacheDirectives(undefined, bad, 3600)).toThrow(
        expect.objectContaining({ status: 400, param: "x-cache-ttl" }),
      );
    }
  });
});

describe("cache writes", () => {
  it("stores the answer in KV with its usage as metadata and the TTL", async () => {
    const key = `llm/test/${crypto.randomUUID()}`;
    const before = Date.now();
    await writeEntry(env.LLM_CACHE, key, "{}", { promptTokens: 3, completionTokens: 4 }, 120, "req_1");
    const stored = await env.LLM_CACHE.getWithMetadata<{ p: number; c: number; e: number; t: number }>(key);
    expect(stored.value).toBe("{}");
    expect(stored.metadata).toMatchObject({ p: 3, c: 4 });
    expect(stored.metadata!.e - stored.metadata!.t).toBe(120_000);
    const { keys } = await env.LLM_CACHE.list({ prefix: key });
    // KV's expiration (epoch seconds) is the TTL from the write.
    expect(keys[0]?.expiration).toBeGreaterThanOrEqual(Math.floor(before / 1000) + 120);
    expect(keys[0]?.expiration).toBeLessThanOrEqual(Math.ceil(stored.metadata!.t / 1000) + 120);
  });

  it("reads a hit's metadata through its schema; metadata of another shape means unknown age and usage", async () => {
    const key = `llm/test/${crypto.randomUUID()}`;
    await env.LLM_CACHE.put(key, "{}", { metadata: { t: "yesterday", p: 3 } });
    expect(await readEntry(env.LLM_CACHE, key)).toEqual({ text: "{}", meta: { t: 0, e: 0, p: 0, c: 0 } });
    await env.LLM_CACHE.put(key, "{}", { metadata: { t: 1, e: 2, p: 3, c: 4 } });
    expect((await readEntry(env.LLM_CACHE, key))?.meta).toEqual({ t: 1, e: 2, p: 3, c: 4 });
  });

  it("treats losing KV's one-write-per-second race (429) as success, and nothing else", () => {
    expect(isWriteRace(new Error("KV PUT failed: 429 Too Many Requests"))).toBe(true);
    expect(isWriteRace(new Error("too many requests"))).toBe(true);
    expect(isWriteRace(new Error("KV PUT failed: 500"))).toBe(false);
    expect(isWriteRace("429")).toBe(false);
  });
});

describe("single flight", () => {
  it("hands the leader's result to followers and holds the slot until the cache write lands", async () => {
    const flights = new SingleFlight();
    expect(flights.join("k")).toBeUndefined();
    const leader = flights.lead("k");
    const follower = flights.join("k");
    let landed: () => void = () => {};
    const write = new Promise<void>((r) => {
      landed = r;
    });
    leader.settle({ ok: true, text: "answer", usage: null }, write);
    expect(await follower).toMatchObject({ ok: true, text: "answer" });
    expect(await flights.join("k")).toMatchObject({ ok: true, text: "answer" });
    landed();
    await write;
    expect(flights.join("k")).toBeUndefined();
  });

  it("frees the slot at once on failure", async () => {
    const flights = new SingleFlight();
    const leader = flights.lead("k");
    const follower = flights.join("k");
    leader.settle({ ok: false, error: null });
    expect(await follower).toEqual({ ok: false, error: null });
    expect(flights.size).toBe(0);
  });
});

describe("isolate copy of hot entries", () => {
  const answer = (text: string, e = 0) => ({ text, meta: { t: 1, e, p: 1, c: 1 } });

  it("serves entries until the earlier of its max age and the KV expiry", () => {
    const memo = new AnswerMemo();
    memo.set("a", answer("A"), 1_000);
    expect(memo.get("a", 1_000 + MAX_AGE_MS - 1)?.text).toBe("A");
    expect(memo.get("a", 1_000 + MAX_AGE_MS)).toBeNull();
    memo.set("b", answer("B", 5_000), 1_000);
    expect(memo.get("b", 4_999)?.text).toBe("B");
    expect(memo.get("b", 5_000)).toBeNull();
    expect(memo.totalBytes).toBe(0);
  });

  it("evicts the least recently used entries past its size bound and skips huge ones", () => {
    const memo = new AnswerMemo();
    const big = "x".repeat(100 * 1024); // ~200 KB counted
    for (let i = 0; i < 60; i++) {
      memo.set(`k${i}`, answer(big), 0);
      memo.get("k0", 0); // keep k0 hot
    }
    expect(memo.totalBytes).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(memo.get("k0", 0)).not.toBeNull();
    expect(memo.get("k1", 0)).toBeNull();
    memo.set("huge", answer("y".repeat(200 * 1024)), 0);
    expect(memo.get("huge", 0)).toBeNull();
  });
});
