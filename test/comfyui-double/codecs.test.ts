/**
 * Unit tests of the double's building blocks: images through sharp, torch-like tensor repr, and the Python text
 * forms.
 */
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodeImage, encodePng } from "./codec.ts";
import { emptyImage, scaleImage, tensorRepr } from "./images.ts";
import { PyError, pyFloatValue, pyInt, pyRepr } from "./py.ts";

describe("sharp codec (codec.ts)", () => {
  it("SaveImage PNGs: pixels as given, tEXt chunks after IHDR; LoadImage decodes PNG, JPEG and WebP", async () => {
    const image = emptyImage(4, 3, 1, 0x336699);
    const png = await encodePng(
      { width: 4, height: 3, channels: 3, data: image.frames[0] as Uint8Array },
      { level: 4, text: [["prompt", '{"1": {}}']] },
    );
    const meta = await sharp(png).metadata();
    expect(meta).toMatchObject({ format: "png", width: 4, height: 3 });
    expect(meta.comments).toEqual([{ keyword: "prompt", text: '{"1": {}}' }]);
    const back = await decodeImage(png);
    expect(back).toMatchObject({ width: 4, height: 3, hasAlpha: false });
    expect([...(back?.data.subarray(0, 4) ?? [])]).toEqual([0x33, 0x66, 0x99, 255]);
    const source = sharp({
      create: { width: 5, height: 2, channels: 4, background: { r: 9, g: 8, b: 7, alpha: 0.5 } },
    });
    for (const format of ["jpeg", "webp"] as const) {
      const decoded = await decodeImage(await source.clone().toFormat(format).toBuffer());
      expect(decoded).toMatchObject({ width: 5, height: 2 });
    }
    expect(await decodeImage(Buffer.from("not an image"))).toBeNull();
  });
});

describe("images", () => {
  it("tensor repr: small tensors in full, large ones summarised like torch", () => {
    expect(tensorRepr(emptyImage(2, 1, 1, 0xff0000))).toBe("tensor([[[[1., 0., 0.],\n          [1., 0., 0.]]]])");
    const big = tensorRepr(emptyImage(64, 48, 1, 0x808080));
    expect(big.split("\n")[0]).toBe("tensor([[[[0.5020, 0.5020, 0.5020],");
    expect(big).toContain("          ...,\n");
  });

  it("ImageScale: width 0 keeps the aspect ratio, center crop before resampling", async () => {
    const img = emptyImage(40, 20, 1, 0);
    const kept = await scaleImage(img, 0, 10, "bilinear", "disabled");
    expect([kept.width, kept.height, kept.frames[0]?.length]).toEqual([20, 10, 20 * 10 * 3]);
    const cropped = await scaleImage(img, 10, 10, "nearest-exact", "center");
    expect([cropped.width, cropped.height, cropped.frames[0]?.length]).toEqual([10, 10, 10 * 10 * 3]);
  });
});

describe("Python text forms", () => {
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
