import { policyFor } from "@comfy-edge/shared/url-guard";
import { describe, expect, it } from "vitest";
import { guardImages, isDeterministic, parseChatRequest, upstreamBody } from "./request.ts";

const base = { model: "m", messages: [{ role: "user", content: "hi" }] };

function body(url: string) {
  return { ...base, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url } }] }] };
}

function paramOf(body: unknown): string | null {
  try {
    parseChatRequest(body);
  } catch (err) {
    return (err as { param: string | null }).param;
  }
  return "(valid)";
}

describe("chat request validation", () => {
  it("accepts unknown fields anywhere and keeps them out of the way", () => {
    const body = { ...base, guided_json: { a: 1 }, messages: [{ role: "user", content: "hi", name: "n", x: 1 }] };
    expect(paramOf(body)).toBe("(valid)");
    expect(paramOf({ ...base, temperature: null, seed: null, stop: ["a"], n: 2, top_p: 0 })).toBe("(valid)");
  });

  it("names the first bad field, inside unions too", () => {
    expect(paramOf([])).toBeNull();
    expect(paramOf({ messages: base.messages })).toBe("model");
    expect(paramOf({ ...base, max_completion_tokens: 0 })).toBe("max_completion_tokens");
    expect(paramOf({ ...base, stop: 5 })).toBe("stop");
    expect(paramOf({ ...base, stream: "yes" })).toBe("stream");
    expect(paramOf({ ...base, messages: [{ role: "user", content: 5 }] })).toBe("messages[0].content");
    expect(
      paramOf({ ...base, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: 1 } }] }] }),
    ).toBe("messages[0].content[0].image_url.url");
    expect(paramOf({ ...base, messages: [{ role: "user", content: [{ type: "audio_url", audio_url: {} }] }] })).toBe(
      "messages[0].content[0].type",
    );
  });

  it("caches only deterministic requests by default", () => {
    expect(isDeterministic(parseChatRequest({ ...base, temperature: 0 }))).toBe(true);
    expect(isDeterministic(parseChatRequest({ ...base, temperature: 1, seed: 7 }))).toBe(true);
    expect(isDeterministic(parseChatRequest(base))).toBe(false);
    expect(isDeterministic(parseChatRequest({ ...base, temperature: 0.2 }))).toBe(false);
  });

  it("asks for usage on streams and keeps the client's stream options", () => {
    expect(JSON.parse(upstreamBody({ ...base, stream: true, stream_options: { x: 1 } }, true))).toEqual({
      ...base,
      stream: true,
      stream_options: { x: 1, include_usage: true },
    });
    expect(upstreamBody(base, false)).toBe(JSON.stringify(base));
  });

  it("runs every image URL through the URL guard with its path", () => {
    const policy = () => policyFor("image", {}, { image_url_allowlist: ["ok.example.com"] });
    const twoMessages = (url: string) => ({
      ...base,
      messages: [
        { role: "user", content: "x" },
        {
          role: "user",
          content: [
            { type: "text", text: "t" },
            { type: "image_url", image_url: { url } },
          ],
        },
      ],
    });
    const guard = (url: string) => guardImages(parseChatRequest(twoMessages(url)), twoMessages(url), policy);
    expect(() => guard("https://ok.example.com/a.png")).not.toThrow();
    expect(() => guard("https://other.example.com/a.png")).toThrow(
      expect.objectContaining({ status: 422, code: "url_not_allowed", param: "messages[1].content[1].image_url.url" }),
    );
    expect(() => guard("https://[::1]/a.png")).toThrow(expect.objectContaining({ code: "unsafe_url" }));
    expect(() => guard("https://ok.example.com\\@127.0.0.1:11701/a.png")).toThrow(
      expect.objectContaining({ code: "unsafe_url", message: expect.stringContaining("backslash") }),
    );
    let built = 0;
    guardImages(parseChatRequest(base), base, () => {
      built++;
      return policy();
    });
    expect(built).toBe(0);
  });

  it("returns the body to forward: image URLs in canonical form, the client's object otherwise untouched", () => {
    const policy = () => policyFor("image", {}, { image_url_allowlist: ["ok.example.com"] });
    const raw = {
      ...base,
      extra: { keep: true },
      messages: [
        { role: "system", content: "s" },
        {
          role: "user",
          name: "u",
          content: [
            { type: "image_url", image_url: { url: "HTTPS://OK.example.com:443/a b.png?q=1 2", detail: "low" } },
            { type: "image_url", image_url: { url: "https://ok.example.com/c.png" } },
          ],
        },
      ],
    };
    const copy = structuredClone(raw);
    const forward = guardImages(parseChatRequest(raw), raw, policy);
    expect(raw).toEqual(copy);
    expect(forward).toEqual({
      ...copy,
      messages: [
        copy.messages[0],
        {
          ...copy.messages[1],
          content: [
            { type: "image_url", image_url: { url: "https://ok.example.com/a%20b.png?q=1%202", detail: "low" } },
            { type: "image_url", image_url: { url: "https://ok.example.com/c.png" } },
          ],
        },
      ],
    });
    const canonical = body("https://ok.example.com/c.png");
    expect(guardImages(parseChatRequest(canonical), canonical, policy)).toBe(canonical);
  });
});
