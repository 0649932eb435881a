import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseLlmConfig, type Upstream } from "./config.ts";
import { scrubSecrets, upstreamMessage } from "./scrub.ts";
import { backoffMs, dispatch, parseRetryAfter } from "./upstream.ts";

type Handler = (url: string, init: RequestInit) => Promise<Response>;

/** Upstreams reached through fake Fetcher bindings (the `binding` option), so no network is involved. */
function setup(handlers: Record<string, Handler>, config: unknown[]) {
  const calls: string[] = [];
  const bindings: Record<string, unknown> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    bindings[`UP_${name.toUpperCase()}`] = {
      fetch: (url: string, init: RequestInit) => {
        calls.push(name);
        return handler(url, init);
      },
    };
  }
  const parsed = parseLlmConfig({ LLM_UPSTREAMS: JSON.stringify(config) });
  if (!parsed.ok) throw new Error(parsed.reason);
  const testEnv = { ...env, ...bindings, KEY_B: "sk-bbbbbbbbbbbbbbbbbbbb" } as unknown as Env;
  const sleeps: number[] = [];
  const run = (candidates: Upstream[] = parsed.config.upstreams) =>
    dispatch({
      env: testEnv,
      candidates,
      body: "{}",
      stream: false,
      requestId: "req_t",
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
  return { calls, sleeps, run };
}

const up = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  base_url: `https://${name}.example.com/v1`,
  binding: `UP_${name.toUpperCase()}`,
  models: ["*"],
  ...extra,
});

const status = (code: number, body = '{"error":{"message":"nope"}}', headers: Record<string, string> = {}) =>
  Promise.resolve(new Response(body, { status: code, headers }));

describe("dispatch", () => {
  it("retries 5xx with growing backoff, then falls back, sending each upstream its own key", async () => {
    let auth: string | null = "unset";
    const { calls, sleeps, run } = setup(
      {
        a: () => status(503),
        b: (_url, init) => {
          auth = new Headers(init.headers).get("authorization");
          return status(200, '{"choices":[]}');
        },
      },
      [up("a"), up("b", { api_key_secret: "KEY_B", priority: 1 })],
    );
    const d = await run();
    d.deadline.clear();
    expect(d.upstream.name).toBe("b");
    expect(calls).toEqual(["a", "a", "a", "b"]);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeGreaterThanOrEqual(50);
    expect(sleeps[1]).toBeGreaterThanOrEqual(100);
    expect(auth).toBe("Bearer sk-bbbbbbbbbbbbbbbbbbbb");
  });

  it("retries connection errors; gives 502 upstream_error when all fail", async () => {
    const { calls, run } = setup({ a: () => Promise.reject(new TypeError("Network connection lost.")) }, [
      up("a", { max_retries: 1 }),
    ]);
    await expect(run()).rejects.toMatchObject({ status: 502, code: "upstream_error", details: { upstream: "a" } });
    expect(calls).toEqual(["a", "a"]);
  });

  it("answers 400-class refusals at once with the upstream's status, scrubbed", async () => {
    const { calls, run } = setup(
      {
        a: () => status(400, '{"error":{"message":"bad Authorization: Bearer sk-bbbbbbbbbbbbbbbbbbbb"}}'),
        b: () => status(200),
      },
      [up("a", { api_key_secret: "KEY_B" }), up("b")],
    );
    const err = (await run().catch((e: unknown) => e)) as { status: number; message: string; details: unknown };
    expect(err).toMatchObject({
      status: 400,
      code: "upstream_invalid_request",
      details: { upstream: "a", upstream_status: 400 },
      headers: { "x-should-retry": "false" },
    });
    expect(err.message).toContain("bad Authorization");
    expect(err.message).not.toContain("sk-bbbb");
    expect(calls).toEqual(["a"]);
  });

  it("falls back on 404 without retrying; maps a final 429 to upstream_rate_limited with Retry-After", async () => {
    const { calls, run } = setup({ a: () => status(404), b: () => status(429, "{}", { "retry-after": "30" }) }, [
      up("a"),
      up("b"),
    ]);
    await expect(run()).rejects.toMatchObject({
      status: 429,
      code: "upstream_rate_limited",
      headers: { "retry-after": "30", "x-should-retry": "false" },
    });
    expect(calls).toEqual(["a", "b"]);
  });

  it("times out (504) without retrying the slow upstream", async () => {
    const { calls, run } = setup(
      {
        a: (_url, init) =>
          new Promise((_resolve, reject) => init.signal?.addEventListener("abort", () => reject(init.signal?.reason))),
      },
      [up("a", { timeout_ms: 100 })],
    );
    await expect(run()).rejects.toMatchObject({ status: 504, code: "upstream_timeout" });
    expect(calls).toEqual(["a"]);
  });

  it("skips an upstream whose secret is missing; 503 when none is callable", async () => {
    const { calls, run } = setup({ a: () => status(200) }, [up("a", { api_key_secret: "MISSING" })]);
    await expect(run()).rejects.toMatchObject({ status: 503, code: "llm_not_configured" });
    expect(calls).toEqual([]);
  });
});

describe("upstream messages", () => {
  it("takes the message from the usual error shapes and scrubs credentials", () => {
    expect(upstreamMessage('{"error":{"message":"CUDA OOM"}}')).toBe("CUDA OOM");
    expect(upstreamMessage('{"detail":"Not Found"}')).toBe("Not Found");
    expect(upstreamMessage('{"error":"model not loaded"}')).toBe("model not loaded");
    expect(upstreamMessage("plain text\n failure")).toBe("plain text failure");
    expect(upstreamMessage("x".repeat(2000)).length).toBeLessThan(510);
    const dirty =
      "Authorization: Bearer abc.def api_key=zzz9 token: t0k sk-proj-aaaaaaaaaaaaaaaaaa ce_sk_AAAAAAAAAAAAAAAAAAAAAA";
    const clean = scrubSecrets(dirty, ["my-own-key"]);
    for (const secret of ["abc.def", "zzz9", "t0k", "sk-proj-aaaa", "ce_sk_AAAA"]) expect(clean).not.toContain(secret);
    expect(scrubSecrets("key my-own-key here", ["my-own-key"])).toBe("key [redacted] here");
  });

  it("reads Retry-After in seconds or as a date, and never backs off less than it asks", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter(new Date(Date.now() + 3000).toUTCString())).toBeGreaterThan(1000);
    expect(parseRetryAfter("soon")).toBeNull();
    expect(backoffMs(1, 1500)).toBeGreaterThanOrEqual(1500);
    expect(backoffMs(3, null)).toBeLessThanOrEqual(400);
  });
});
