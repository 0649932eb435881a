import { describe, expect, it } from "vitest";
import { candidatesFor, configReader, parseLlmConfig } from "./config.ts";

const vars = (upstreams: unknown, extra: Record<string, string> = {}) => ({
  LLM_UPSTREAMS: JSON.stringify(upstreams),
  LLM_UPSTREAM_URL: "",
  LLM_CACHE_SCOPE: "",
  LLM_CACHE_TTL_S: "",
  ...extra,
});

describe("LLM config", () => {
  it("parses upstreams with defaults, sorts by priority (stable) and routes exact and wildcard models", () => {
    const result = parseLlmConfig(
      vars([
        { name: "b", base_url: "https://b.example.com/v1/", models: ["llama3*", "qwen2.5-vl:7b"], priority: 2 },
        { name: "a", base_url: "https://a.example.com/v1", models: ["*"], priority: 5, api_key_secret: "A_KEY" },
        { name: "c", base_url: "http://127.0.0.1:11434/v1", models: ["llama3.1:8b"], priority: 2, timeout_ms: 500 },
      ]),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { upstreams, cacheScope, cacheTtlS } = result.config;
    expect(upstreams.map((u) => u.name)).toEqual(["b", "c", "a"]);
    expect(upstreams[0]).toMatchObject({ baseUrl: "https://b.example.com/v1", timeoutMs: 120_000, maxRetries: 2 });
    expect(upstreams[2]!.apiKeySecret).toBe("A_KEY");
    expect([cacheScope, cacheTtlS]).toEqual(["tenant", 3600]);
    const route = (m: string) => candidatesFor(result.config, m).map((u) => u.name);
    expect(route("llama3.1:8b")).toEqual(["b", "c", "a"]);
    expect(route("qwen2.5-vl:7b")).toEqual(["b", "a"]);
    expect(route("qwen2.5-vl:72b")).toEqual(["a"]);
    expect(upstreams[0]!.exactModels).toEqual(["qwen2.5-vl:7b"]);
  });

  it("treats regex characters in model names literally", () => {
    const result = parseLlmConfig(vars([{ name: "x", base_url: "https://x.example.com", models: ["a.b+c*"] }]));
    if (!result.ok) throw new Error(result.reason);
    expect(candidatesFor(result.config, "a.b+c-7b")).toHaveLength(1);
    expect(candidatesFor(result.config, "axb+c")).toHaveLength(0);
  });

  it("offers LLM_UPSTREAM_URL as a one-upstream shorthand and nothing when both are empty", () => {
    const one = parseLlmConfig({ LLM_UPSTREAMS: "", LLM_UPSTREAM_URL: "http://127.0.0.1:11434/v1" });
    if (!one.ok) throw new Error(one.reason);
    expect(one.config.upstreams).toHaveLength(1);
    expect(candidatesFor(one.config, "anything")[0]!.name).toBe("default");
    const none = parseLlmConfig({ LLM_UPSTREAMS: " ", LLM_UPSTREAM_URL: "" });
    expect(none.ok && none.config.upstreams).toEqual([]);
  });

  it("reads the cache scope and clamps the TTL to KV's range", () => {
    const r = parseLlmConfig({ LLM_CACHE_SCOPE: "GLOBAL", LLM_CACHE_TTL_S: "10" });
    expect(r.ok && [r.config.cacheScope, r.config.cacheTtlS]).toEqual(["global", 60]);
    const d = parseLlmConfig({ LLM_CACHE_SCOPE: "", LLM_CACHE_TTL_S: "" });
    expect(d.ok && [d.config.cacheScope, d.config.cacheTtlS]).toEqual(["tenant", 3600]);
    // A bad value is an operator error naming the variable (issue 13.3), no longer a silent default.
    const bogus = parseLlmConfig({ LLM_CACHE_SCOPE: "bogus" });
    expect(!bogus.ok && bogus.reason).toBe('LLM_CACHE_SCOPE: expected "tenant" or "global", got "bogus"');
    const abc = parseLlmConfig({ LLM_CACHE_TTL_S: "abc" });
    expect(!abc.ok && abc.reason).toBe('LLM_CACHE_TTL_S: expected a whole number of seconds, got "abc"');
    expect(() =>
      configReader()({ LLM_UPSTREAMS: "", LLM_UPSTREAM_URL: "", LLM_CACHE_SCOPE: "", LLM_CACHE_TTL_S: "1h" }),
    ).toThrow(/fix LLM_CACHE_TTL_S/);
  });

  it("rejects broken configs with a reason naming the field", () => {
    const cases: [unknown, RegExp][] = [
      [[{ name: "x", base_url: "ftp://x", models: ["*"] }], /0\.base_url/],
      [[{ name: "x", base_url: "https://u:p@x.example.com", models: ["*"] }], /credentials/],
      [[{ name: "x", base_url: "https://x.example.com", models: [] }], /0\.models/],
      [[{ name: "x", base_url: "https://x.example.com", models: ["*"], timeout: 5 }], /timeout/],
      [
        [
          { name: "x", base_url: "https://x.example.com", models: ["*"] },
          { name: "x", base_url: "https://y.example.com", models: ["*"] },
        ],
        /unique/,
      ],
      [{ name: "x" }, /array/],
    ];
    for (const [config, reason] of cases) {
      const r = parseLlmConfig(vars(config));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(reason);
    }
    const notJson = parseLlmConfig({ LLM_UPSTREAMS: "[{" });
    expect(!notJson.ok && notJson.reason).toMatch(/not valid JSON/);
  });

  it("memoises per set of values and answers 503 llm_not_configured while broken", () => {
    const read = configReader();
    const good = vars([{ name: "x", base_url: "https://x.example.com", models: ["*"] }]);
    expect(read(good)).toBe(read({ ...good }));
    expect(() => read({ ...good, LLM_UPSTREAMS: "[{" })).toThrow(
      expect.objectContaining({ status: 503, code: "llm_not_configured" }),
    );
  });
});
