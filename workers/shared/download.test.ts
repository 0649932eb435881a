import { describe, expect, it } from "vitest";
import { contentDisposition, downloadHeaders, servedContentType } from "./download.ts";

describe("download headers", () => {
  it("keeps known media types (parameters and case dropped) and turns everything else into octet-stream", () => {
    expect(servedContentType("image/png")).toBe("image/png");
    expect(servedContentType("Image/JPEG; q=1")).toBe("image/jpeg");
    expect(servedContentType("video/webm")).toBe("video/webm");
    expect(servedContentType("audio/flac")).toBe("audio/flac");
    for (const active of ["text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/pdf", ""]) {
      expect(servedContentType(active)).toBe("application/octet-stream");
    }
  });

  it("encodes the file name per RFC 6266 / 5987 with an ASCII fallback", () => {
    expect(contentDisposition("inline", "out.png")).toBe(`inline; filename="out.png"; filename*=UTF-8''out.png`);
    expect(contentDisposition("attachment", "ü (1)*'.png")).toBe(
      `attachment; filename="_ (1)*'.png"; filename*=UTF-8''%C3%BC%20%281%29%2A%27.png`,
    );
    // Quotes, backslashes, percent signs, control characters and header-splitting attempts stay inside the value.
    const evil = contentDisposition("inline", 'a"b%41\r\nSet-Cookie: x=1.png');
    expect(evil).toBe(
      `inline; filename="a_b_41__Set-Cookie: x=1.png"; filename*=UTF-8''a%22b%2541%0D%0ASet-Cookie%3A%20x%3D1.png`,
    );
    expect(evil).not.toMatch(/[\r\n]/);
    // Path components are dropped; an empty name gets a neutral one.
    expect(contentDisposition("inline", "../../etc/passwd")).toContain(`filename="passwd"`);
    expect(contentDisposition("inline", "dir\\x.png")).toContain(`filename="x.png"`);
    expect(contentDisposition("inline", "")).toContain(`filename="output"`);
  });

  it("attaches what it will not serve inline and always sends nosniff and a sandboxing CSP", () => {
    expect(downloadHeaders({ content_type: "text/html", filename: "x.html" })).toEqual({
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename="x.html"; filename*=UTF-8''x.html`,
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'none'; sandbox",
    });
    expect(downloadHeaders({ content_type: "image/webp", filename: "x.webp" })["content-disposition"]).toMatch(
      /^inline; /,
    );
  });
});
