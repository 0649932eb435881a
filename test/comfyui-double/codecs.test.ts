/**
 * Unit tests of the double's building blocks: PNG encode/decode (every filter type and colour type), WebP/JPEG
 * container structure, header sniffing, torch-like tensor repr, and the Python text forms.
 */
import { crc32, deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { emptyImage, scaleImage, tensorRepr } from "./images.ts";
import { encodeJpeg } from "./jpeg.ts";
import { decodePng, encodePng, encodeWebpLossless, readPngInfo, sniffImage } from "./png.ts";
import { PyError, pyDumps, pyFloatValue, pyInt, pyRepr } from "./py.ts";

function chunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A PNG built by hand: colour type, bit depth and one filter per row. */
function handPng(
  width: number,
  colorType: number,
  bitDepth: number,
  rows: number[][],
  filters: number[],
  plte?: number[],
): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(rows.length, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  const raw = Buffer.concat(rows.map((r, y) => Buffer.from([filters[y] as number, ...r])));
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk("IHDR", ihdr),
      ...(plte ? [chunk("PLTE", Uint8Array.from(plte))] : []),
      chunk("IDAT", deflateSync(raw)),
      chunk("IEND", new Uint8Array(0)),
    ]),
  );
}

describe("PNG", () => {
  it("round-trips L, LA, RGB and RGBA and keeps tEXt chunks", () => {
    for (const channels of [1, 2, 3, 4] as const) {
      const data = Uint8Array.from({ length: 5 * 3 * channels }, (_, i) => (i * 37) & 255);
      const png = encodePng({ width: 5, height: 3, channels, data }, { level: 4, text: [["prompt", '{"a": 1}']] });
      const decoded = decodePng(png);
      expect(decoded?.width).toBe(5);
      for (let p = 0; p < 15; p++) {
        const rgba = decoded?.data.subarray(p * 4, p * 4 + 4) as Uint8Array;
        const src = data.subarray(p * channels, (p + 1) * channels);
        const expected =
          channels < 3
            ? [src[0], src[0], src[0], channels === 2 ? src[1] : 255]
            : [src[0], src[1], src[2], channels === 4 ? src[3] : 255];
        expect([...rgba]).toEqual(expected);
      }
      expect(readPngInfo(png)?.text).toEqual({ prompt: '{"a": 1}' });
    }
  });

  it("undoes every filter type (None, Sub, Up, Average, Paeth)", () => {
    // 2x5 RGB, each row encoded with a different filter from the same target pixels
    const target = [
      [10, 20, 30, 40, 50, 60],
      [11, 22, 33, 44, 55, 66],
      [200, 100, 50, 25, 12, 6],
      [1, 2, 3, 250, 251, 252],
      [9, 9, 9, 8, 8, 8],
    ];
    const bpp = 3;
    const encoded: number[][] = [];
    const filters = [0, 1, 2, 3, 4];
    target.forEach((row, y) => {
      const prev = y > 0 ? (target[y - 1] as number[]) : new Array<number>(row.length).fill(0);
      encoded.push(
        row.map((v, x) => {
          const a = x >= bpp ? (row[x - bpp] as number) : 0;
          const b = prev[x] as number;
          const c = x >= bpp ? (prev[x - bpp] as number) : 0;
          const p = a + b - c;
          const pred = [
            0,
            a,
            b,
            (a + b) >> 1,
            Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
              ? a
              : Math.abs(p - b) <= Math.abs(p - c)
                ? b
                : c,
          ][filters[y] as number] as number;
          return (v - pred) & 255;
        }),
      );
    });
    const decoded = decodePng(handPng(2, 2, 8, encoded, filters));
    const rgb = [...(decoded?.data ?? [])].filter((_, i) => i % 4 !== 3);
    expect(rgb).toEqual(target.flat());
  });

  it("decodes palette and 1-bit grayscale images", () => {
    const palette = decodePng(handPng(3, 3, 8, [[0, 1, 2]], [0], [255, 0, 0, 0, 255, 0, 0, 0, 255]));
    expect([...(palette?.data ?? [])]).toEqual([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255]);
    const bits = decodePng(handPng(4, 0, 1, [[0b1010_0000]], [0]));
    expect([...(bits?.data ?? [])].filter((_, i) => i % 4 === 0)).toEqual([255, 0, 255, 0]);
  });
});

describe("other formats", () => {
  it("WebP lossless: RIFF/WEBP/VP8L container with the image size in the VP8L header", () => {
    const webp = encodeWebpLossless({ width: 300, height: 7, channels: 3, data: new Uint8Array(300 * 7 * 3).fill(5) });
    const b = Buffer.from(webp);
    expect([b.toString("latin1", 0, 4), b.toString("latin1", 8, 16)]).toEqual(["RIFF", "WEBPVP8L"]);
    expect(b.readUInt32LE(4)).toBe(b.length - 8);
    expect(b[20]).toBe(0x2f);
    expect(sniffImage(webp)).toEqual({ format: "WEBP", width: 300, height: 7 });
  });

  it("JPEG: SOI, SOF0 with the size, EOI", () => {
    const jpeg = encodeJpeg({ width: 19, height: 11, channels: 3, data: new Uint8Array(19 * 11 * 3).fill(128) }, 75);
    expect(sniffImage(jpeg)).toEqual({ format: "JPEG", width: 19, height: 11 });
    expect([jpeg[0], jpeg[1], jpeg.at(-2), jpeg.at(-1)]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
  });

  it("sniffs GIF and BMP headers", () => {
    expect(sniffImage(Buffer.from("GIF89a\x20\x00\x10\x00", "latin1"))).toEqual({
      format: "GIF",
      width: 32,
      height: 16,
    });
    const bmp = Buffer.alloc(30);
    bmp.write("BM", 0, "latin1");
    bmp.writeInt32LE(12, 18);
    bmp.writeInt32LE(-9, 22);
    expect(sniffImage(bmp)).toEqual({ format: "BMP", width: 12, height: 9 });
    expect(sniffImage(Buffer.from("not an image"))).toBeNull();
  });
});

describe("images", () => {
  it("tensor repr: small tensors in full, large ones summarised like torch", () => {
    expect(tensorRepr(emptyImage(2, 1, 1, 0xff0000))).toBe("tensor([[[[1., 0., 0.],\n          [1., 0., 0.]]]])");
    const big = tensorRepr(emptyImage(64, 48, 1, 0x808080));
    expect(big.split("\n")[0]).toBe("tensor([[[[0.5020, 0.5020, 0.5020],");
    expect(big).toContain("          ...,\n");
  });

  it("ImageScale: width 0 keeps the aspect ratio, center crop before resampling", () => {
    const img = emptyImage(40, 20, 1, 0);
    expect([
      scaleImage(img, 0, 10, "bilinear", "disabled").width,
      scaleImage(img, 0, 10, "bilinear", "disabled").height,
    ]).toEqual([20, 10]);
    const cropped = scaleImage(img, 10, 10, "nearest-exact", "center");
    expect([cropped.width, cropped.height]).toEqual([10, 10]);
  });
});

describe("Python text forms", () => {
  it("json.dumps: separators, ensure_ascii, floats, nesting", () => {
    expect(pyDumps({ a: [1, 2.5, 'é\n"', null, true], b: {} })).toBe(
      '{"a": [1, 2.5, "\\u00e9\\n\\"", null, true], "b": {}}',
    );
    expect(pyDumps(1e-7)).toBe("1e-07");
  });

  it("repr/str and int()/float() conversions with CPython's error messages", () => {
    expect(pyRepr({ a: ["x", "it's"], b: null, c: false })).toBe(`{'a': ['x', "it's"], 'b': None, 'c': False}`);
    expect(pyInt(" 42 ")).toBe(42);
    expect(pyInt(7.9)).toBe(7);
    expect(() => pyInt("abc")).toThrow(new PyError("ValueError", "invalid literal for int() with base 10: 'abc'"));
    expect(() => pyInt(null)).toThrow(
      "int() argument must be a string, a bytes-like object or a real number, not 'NoneType'",
    );
    expect(pyFloatValue("1e3")).toBe(1000);
    expect(() => pyFloatValue("x")).toThrow("could not convert string to float: 'x'");
  });
});
