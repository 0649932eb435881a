import { describe, expect, it } from "vitest";
import { checkUrl } from "./check.ts";
import { BASE_POLICY, TINY_IMAGES } from "./corpus.ts";
import { sniffImageType } from "./image-type.ts";

const b64 = (bytes: readonly number[]) => btoa(String.fromCharCode(...bytes));
const dataUrl = (mime: string, bytes: readonly number[]) => `data:${mime};base64,${b64(bytes)}`;

describe("sniffImageType", () => {
  it("recognises png, jpeg, gif (87a and 89a) and webp", () => {
    expect(sniffImageType(new Uint8Array(TINY_IMAGES.png))).toBe("image/png");
    expect(sniffImageType(new Uint8Array(TINY_IMAGES.jpeg))).toBe("image/jpeg");
    expect(sniffImageType(new Uint8Array(TINY_IMAGES.gif))).toBe("image/gif");
    expect(sniffImageType(new TextEncoder().encode("GIF87a...."))).toBe("image/gif");
    expect(sniffImageType(new Uint8Array(TINY_IMAGES.webp))).toBe("image/webp");
  });

  it("refuses everything else, including truncated magic", () => {
    expect(sniffImageType(new Uint8Array())).toBeNull();
    expect(sniffImageType(new Uint8Array(TINY_IMAGES.png.slice(0, 7)))).toBeNull();
    expect(sniffImageType(new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>"))).toBeNull();
    expect(sniffImageType(new TextEncoder().encode("RIFF\u0010\u0000\u0000\u0000WAVEfmt "))).toBeNull();
    expect(sniffImageType(new TextEncoder().encode("<!doctype html>"))).toBeNull();
  });
});

describe("data: URLs", () => {
  it.each([
    ["image/png", TINY_IMAGES.png],
    ["image/jpeg", TINY_IMAGES.jpeg],
    ["image/gif", TINY_IMAGES.gif],
    ["image/webp", TINY_IMAGES.webp],
  ] as const)("decodes a valid %s", (mime, bytes) => {
    const result = checkUrl(dataUrl(mime, bytes), BASE_POLICY);
    expect(result).toEqual({ ok: true, kind: "data", url: null, mimeType: mime, bytes: new Uint8Array(bytes) });
  });

  it("accepts whitespace inside base64 and ignores the fragment", () => {
    const encoded = b64(TINY_IMAGES.png);
    const result = checkUrl(`data:image/png;base64,${encoded.slice(0, 4)} ${encoded.slice(4)}#frag`, BASE_POLICY);
    expect(result).toMatchObject({ ok: true, mimeType: "image/png" });
  });

  it("accepts type parameters before ;base64", () => {
    expect(checkUrl(dataUrl("image/png;name=a.png", TINY_IMAGES.png), BASE_POLICY)).toMatchObject({ ok: true });
  });

  it("caps the decoded size at maxDataBytes (exactly at the cap is fine)", () => {
    const bytes = [...TINY_IMAGES.png, ...new Array(100).fill(0)];
    expect(checkUrl(dataUrl("image/png", bytes), { ...BASE_POLICY, maxDataBytes: bytes.length })).toMatchObject({
      ok: true,
    });
    expect(checkUrl(dataUrl("image/png", bytes), { ...BASE_POLICY, maxDataBytes: bytes.length - 1 })).toMatchObject({
      ok: false,
      code: "unsafe_url",
      reason: `data: URL decodes to ${bytes.length} bytes, over the ${bytes.length - 1}-byte limit`,
    });
  });

  it("refuses a huge encoded body without decoding it", () => {
    const huge = `data:image/png;base64,${"A".repeat(4 * 1024 + 100)}`;
    expect(checkUrl(huge, { ...BASE_POLICY, maxDataBytes: 1024 })).toMatchObject({
      ok: false,
      reason: "data: URL is larger than the 1024-byte limit",
    });
  });

  it("refuses wrong types, mismatches and malformed base64", () => {
    const cases: Array<[string, string]> = [
      [`data:image/svg+xml;base64,${btoa("<svg/>")}`, "type image/svg+xml is not allowed"],
      ["data:text/html;base64,PGgxPmhpPC9oMT4=", "type text/html is not allowed"],
      ["data:text/html,<h1>hi</h1>", "type text/html is not allowed"],
      [",abc", "not a valid absolute URL"],
      [dataUrl("image/gif", TINY_IMAGES.png), "declares image/gif but its bytes are image/png"],
      [dataUrl("image/webp", [...TINY_IMAGES.webp.slice(0, 8), 0x41, 0x56, 0x49, 0x20]), "bytes are not a png"],
      ["data:image/png;base64,%%%%", "malformed base64"],
      ["data:image/png;base64,iVBO=w0K", "malformed base64"],
    ];
    for (const [url, reason] of cases) {
      const result = checkUrl(url, BASE_POLICY);
      expect(result, url).toMatchObject({ ok: false, code: "unsafe_url" });
      if (!result.ok) expect(result.reason, url).toContain(reason);
    }
  });

  it("accepts percent-encoded (non-base64) image data", () => {
    const encoded = TINY_IMAGES.gif.map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
    expect(checkUrl(`data:image/gif,${encoded}`, BASE_POLICY)).toMatchObject({ ok: true, mimeType: "image/gif" });
  });
});
