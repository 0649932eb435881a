/**
 * The double's images through sharp (libvips): PNG encoding for SaveImage/PreviewImage files and preview
 * frames, decoding of uploaded inputs (PNG, JPEG, WebP, GIF...) for LoadImage. SaveImage's tEXt chunks
 * (prompt, extra_pnginfo) are inserted after IHDR, as PIL's PngInfo writes them.
 */
import { crc32 } from "node:zlib";
import sharp from "sharp";

export interface RawImage {
  width: number;
  height: number;
  /** 3 (RGB) or 4 (RGBA), 8 bits each, rows top to bottom. */
  channels: 3 | 4;
  data: Uint8Array;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A PNG of `image` at zlib `level` (ComfyUI: compress_level 4 for SaveImage, 1 for previews), with tEXt chunks. */
export async function encodePng(
  image: RawImage,
  options: { level?: number; text?: Array<[string, string]> } = {},
): Promise<Uint8Array> {
  const png = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
    .png({ compressionLevel: options.level ?? 6 })
    .toBuffer();
  if (!options.text || options.text.length === 0) return png;
  // Signature (8) + IHDR chunk (25): the text chunks follow IHDR.
  const texts = options.text.map(([key, value]) => chunk("tEXt", Buffer.from(`${key}\0${value}`, "latin1")));
  return Buffer.concat([png.subarray(0, 33), ...texts, png.subarray(33)]);
}

/** A JPEG of `image` (ComfyUI 0.33's latent previews are JPEG frames). */
export async function encodeJpeg(image: RawImage, quality = 90): Promise<Uint8Array> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
    .jpeg({ quality })
    .toBuffer();
}

/** Any image format sharp reads, as RGBA; null when the bytes are not an image. */
export async function decodeImage(bytes: Uint8Array): Promise<(RawImage & { hasAlpha: boolean }) | null> {
  try {
    const input = sharp(bytes);
    const meta = await input.metadata();
    const { data, info } = await input.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, channels: 4, data, hasAlpha: meta.hasAlpha === true };
  } catch {
    return null;
  }
}
