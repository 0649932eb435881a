import { describe, expect, it } from "vitest";
import { ApiError } from "../errors.ts";
import { assertSafeUrl, checkUrl } from "./check.ts";
import { ALLOWED, BASE_POLICY, CORPUS_SECRET, type CorpusCase, HOSTILE } from "./corpus.ts";
import type { UrlPolicy } from "./types.ts";

const policyOf = (c: CorpusCase): UrlPolicy => ({ ...BASE_POLICY, ...c.policy });
const label = (c: CorpusCase) => `${c.why}: ${c.url.length > 80 ? `${c.url.slice(0, 80)}...` : c.url}`;

describe("corpus", () => {
  it("has at least 60 hostile URLs and covers allowed ones", () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(60);
    expect(ALLOWED.length).toBeGreaterThanOrEqual(20);
  });
});

describe("checkUrl on the hostile corpus", () => {
  it.each(HOSTILE.map((c) => [label(c), c] as const))("refuses %s", (_name, c) => {
    const result = checkUrl(c.url, policyOf(c));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe(c.expect);
    if (c.reason !== undefined) expect(result.reason).toContain(c.reason);
    expect(result.reason).not.toContain(CORPUS_SECRET);
  });
});

describe("checkUrl on the allowed corpus", () => {
  it.each(ALLOWED.map((c) => [label(c), c] as const))("accepts %s", (_name, c) => {
    const result = checkUrl(c.url, policyOf(c));
    if (!result.ok) expect.fail(`refused: ${result.reason}`);
    if (result.kind === "data") {
      expect(result.url).toBeNull();
      expect(result.bytes.byteLength).toBeGreaterThan(0);
      return;
    }
    expect(result.host).toBe(c.host);
    expect(result.ip).toBe(c.ip);
    expect(result.url).toBeInstanceOf(URL);
    expect(result.kind).toBe(c.url.toLowerCase().startsWith("https") ? "https" : "http");
  });
});

describe("checkUrl details", () => {
  it("checks safety before the allowlist (a private host on the list is still unsafe)", () => {
    const result = checkUrl("https://10.0.0.1/a.png", { ...BASE_POLICY, hostAllowlist: ["10.0.0.1"] });
    expect(result).toMatchObject({ ok: false, code: "unsafe_url" });
  });

  it("names the rule in the reason", () => {
    expect(checkUrl("https://10.0.0.1/", BASE_POLICY)).toEqual({
      ok: false,
      code: "unsafe_url",
      reason: "private address 10.0.0.1 is not allowed",
    });
    expect(checkUrl("ftp://example.com/", BASE_POLICY)).toEqual({
      ok: false,
      code: "unsafe_url",
      reason: "scheme ftp: is not allowed; use https",
    });
  });

  it("falls back to a generic allowlist name when the policy has none", () => {
    const result = checkUrl("https://evil.com/", { ...BASE_POLICY, hostAllowlist: ["good.com"] });
    expect(result).toMatchObject({
      ok: false,
      code: "url_not_allowed",
      reason: "host evil.com is not on the host allowlist",
    });
  });

  it("never echoes the password, even in a malformed URL", () => {
    for (const url of [
      `https://u:${CORPUS_SECRET}@exa mple.com/`,
      `ftp://u:${CORPUS_SECRET}@example.com/`,
      `https://u:${CORPUS_SECRET}@10.0.0.1/`,
    ]) {
      const result = checkUrl(url, BASE_POLICY);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).not.toContain(CORPUS_SECRET);
    }
  });

  it("allows any port on loopback/private hosts only with ALLOW_PRIVATE_URLS", () => {
    expect(checkUrl("http://127.0.0.1:8787/", BASE_POLICY).ok).toBe(false);
    expect(checkUrl("http://127.0.0.1:8787/", { ...BASE_POLICY, allowPrivate: true }).ok).toBe(true);
    expect(checkUrl("https://10.1.2.3:9443/", { ...BASE_POLICY, allowPrivate: true }).ok).toBe(true);
  });
});

describe("assertSafeUrl", () => {
  it("returns the check when the URL is allowed", () => {
    const result = assertSafeUrl("https://images.example.com/a.png", BASE_POLICY, "webhook.url");
    expect(result).toMatchObject({ ok: true, kind: "https", host: "images.example.com" });
  });

  it("throws ApiError 422 with the code, the reason and the param", () => {
    const param = "messages[0].content[1].image_url.url";
    let thrown: unknown;
    try {
      assertSafeUrl("https://169.254.169.254/latest/meta-data", BASE_POLICY, param);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    const error = thrown as ApiError;
    expect(error.status).toBe(422);
    expect(error.code).toBe("unsafe_url");
    expect(error.type).toBe("invalid_request_error");
    expect(error.param).toBe(param);
    expect(error.message).toContain("169.254.169.254");
  });

  it("uses url_not_allowed for allowlist misses", () => {
    expect(() =>
      assertSafeUrl(
        "https://evil.com/a.png",
        { ...BASE_POLICY, hostAllowlist: ["*.example.com"] },
        "workflow.12.inputs.image",
      ),
    ).toThrow(expect.objectContaining({ status: 422, code: "url_not_allowed", param: "workflow.12.inputs.image" }));
  });
});
