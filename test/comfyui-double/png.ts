/**
 * Minimal image codecs for the double: a PNG encoder/decoder (zlib + crc32 from node:zlib, 8/16-bit, all colour
 * types, no interlace on decode), a lossless WebP (VP8L) encoder for /view?preview=webp, and header sniffing for
 * other formats (JPEG/GIF/WebP/BMP) so LoadImage can size a placeholder image from their dimensions.
 */
import { crc32, deflateSync, inflateSync } from "node:zlib";

export interface RawImage {
  width: number;
  height: number;
  /** 1 = L, 2 = LA, 3 = RGB, 4 = RGBA; 8 bits per sample. */
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const typeBytes = Buffer.from(type, "latin1");
  const body = Buffer.concat([typeBytes, data]);
  return Buffer.concat([u32be(data.length), body, u32be(crc32(body))]);
}

const COLOR_TYPE: Record<RawImage["channels"], number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

export interface PngEncodeOptions {
  /** zlib level (PIL's compress_level): SaveImage uses 4, PreviewImage/previews 1. */
  level?: number;
  /** tEXt chunks in order (latin-1 text). */
  text?: Array<[string, string]>;
}

export function encodePng(image: RawImage, options: PngEncodeOptions = {}): Uint8Array {
  const { width, height, channels, data } = image;
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = COLOR_TYPE[channels];
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    // filter 0 (None)
    raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const parts: Uint8Array[] = [PNG_SIGNATURE, chunk("IHDR", ihdr)];
  for (const [key, value] of options.text ?? []) {
    parts.push(
      chunk("tEXt", Buffer.concat([Buffer.from(key, "latin1"), Uint8Array.of(0), Buffer.from(value, "latin1")])),
    );
  }
  parts.push(chunk("IDAT", deflateSync(raw, { level: options.level ?? 6 })));
  parts.push(chunk("IEND", new Uint8Array(0)));
  return new Uint8Array(Buffer.concat(parts));
}

export interface PngInfo {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlace: number;
  text: Record<string, string>;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

function readChunks(bytes: Uint8Array): Array<{ type: string; data: Uint8Array }> {
  const out: Array<{ type: string; data: Uint8Array }> = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  while (pos + 8 <= bytes.length) {
    const len = view.getUint32(pos);
    const type = Buffer.from(bytes.subarray(pos + 4, pos + 8)).toString("latin1");
    if (pos + 12 + len > bytes.length) break;
    out.push({ type, data: bytes.subarray(pos + 8, pos + 8 + len) });
    pos += 12 + len;
    if (type === "IEND") break;
  }
  return out;
}

export function readPngInfo(bytes: Uint8Array): PngInfo | null {
  if (!isPng(bytes)) return null;
  const chunks = readChunks(bytes);
  const ihdr = chunks[0];
  if (ihdr === undefined || ihdr.type !== "IHDR" || ihdr.data.length < 13) return null;
  const v = new DataView(ihdr.data.buffer, ihdr.data.byteOffset, 13);
  const text: Record<string, string> = {};
  for (const c of chunks) {
    if (c.type !== "tEXt") continue;
    const zero = c.data.indexOf(0);
    if (zero < 0) continue;
    text[Buffer.from(c.data.subarray(0, zero)).toString("latin1")] = Buffer.from(c.data.subarray(zero + 1)).toString(
      "latin1",
    );
  }
  return {
    width: v.getUint32(0),
    height: v.getUint32(4),
    bitDepth: v.getUint8(8),
    colorType: v.getUint8(9),
    interlace: v.getUint8(12),
    text,
  };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/** Decodes a non-interlaced PNG to 8-bit RGBA; null when unsupported or corrupt. */
export function decodePng(bytes: Uint8Array): RawImage | null {
  const info = readPngInfo(bytes);
  if (info === null || info.interlace !== 0) return null;
  const { width, height, bitDepth, colorType } = info;
  const samples = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
  if (samples === undefined || width === 0 || height === 0 || width * height > 1 << 26) return null;
  const chunks = readChunks(bytes);
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  for (const c of chunks) {
    if (c.type === "PLTE") palette = c.data;
    else if (c.type === "tRNS") trns = c.data;
    else if (c.type === "IDAT") idat.push(c.data);
  }
  let raw: Uint8Array;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch {
    return null;
  }
  const bitsPerPixel = samples * bitDepth;
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  if (raw.length < (stride + 1) * height) return null;
  const lines = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const line = lines.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? lines.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? (line[x - bpp] as number) : 0;
      const b = prev[x] as number;
      const c = x >= bpp ? (prev[x - bpp] as number) : 0;
      const s = src[x] as number;
      let v: number;
      switch (filter) {
        case 0:
          v = s;
          break;
        case 1:
          v = s + a;
          break;
        case 2:
          v = s + b;
          break;
        case 3:
          v = s + ((a + b) >> 1);
          break;
        case 4:
          v = s + paeth(a, b, c);
          break;
        default:
          return null;
      }
      line[x] = v & 0xff;
    }
  }
  const sample = (y: number, i: number): number => {
    // i-th sample of row y, scaled to 8 bits
    const row = y * stride;
    if (bitDepth === 8) return lines[row + i] as number;
    if (bitDepth === 16) return lines[row + i * 2] as number;
    const bit = i * bitDepth;
    const byte = lines[row + (bit >> 3)] as number;
    const v = (byte >> (8 - bitDepth - (bit & 7))) & ((1 << bitDepth) - 1);
    return colorType === 3 ? v : Math.round((v * 255) / ((1 << bitDepth) - 1));
  };
  const out = new Uint8Array(width * height * 4);
  const trnsGray = trns && colorType === 0 && trns.length >= 2 ? ((trns[0] as number) << 8) | (trns[1] as number) : -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const s0 = x * samples;
      if (colorType === 3) {
        const idx = sample(y, s0);
        out[o] = palette?.[idx * 3] ?? 0;
        out[o + 1] = palette?.[idx * 3 + 1] ?? 0;
        out[o + 2] = palette?.[idx * 3 + 2] ?? 0;
        out[o + 3] = trns?.[idx] ?? 255;
      } else if (colorType === 0 || colorType === 4) {
        const g = sample(y, s0);
        out[o] = g;
        out[o + 1] = g;
        out[o + 2] = g;
        if (colorType === 4) out[o + 3] = sample(y, s0 + 1);
        else {
          const rawGray =
            bitDepth === 16
              ? ((lines[y * stride + s0 * 2] as number) << 8) | (lines[y * stride + s0 * 2 + 1] as number)
              : -2;
          out[o + 3] = trnsGray >= 0 && (bitDepth === 16 ? rawGray === trnsGray : g === (trnsGray & 0xff)) ? 0 : 255;
        }
      } else {
        out[o] = sample(y, s0);
        out[o + 1] = sample(y, s0 + 1);
        out[o + 2] = sample(y, s0 + 2);
        out[o + 3] = colorType === 6 ? sample(y, s0 + 3) : 255;
      }
    }
  }
  return { width, height, channels: 4, data: out };
}

/** PNG colour type has an alpha channel (or tRNS): ComfyUI's LoadImage then builds a mask from it. */
export function pngHasAlpha(bytes: Uint8Array): boolean {
  const info = readPngInfo(bytes);
  if (info === null) return false;
  if (info.colorType === 4 || info.colorType === 6) return true;
  return readChunks(bytes).some((c) => c.type === "tRNS");
}

/** Width/height of common image formats from their headers (PNG, JPEG, GIF, WebP, BMP). */
export function sniffImage(bytes: Uint8Array): { format: string; width: number; height: number } | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isPng(bytes) && b.length >= 24) return { format: "PNG", width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  if (b.length >= 10 && b.toString("latin1", 0, 4) === "GIF8") {
    return { format: "GIF", width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  }
  if (b.length >= 26 && b.toString("latin1", 0, 2) === "BM") {
    return { format: "BMP", width: Math.abs(b.readInt32LE(18)), height: Math.abs(b.readInt32LE(22)) };
  }
  if (b.length >= 30 && b.toString("latin1", 0, 4) === "RIFF" && b.toString("latin1", 8, 12) === "WEBP") {
    const kind = b.toString("latin1", 12, 16);
    if (kind === "VP8 ")
      return { format: "WEBP", width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
    if (kind === "VP8L") {
      const bits = b.readUInt32LE(21);
      return { format: "WEBP", width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
    }
    if (kind === "VP8X") return { format: "WEBP", width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let pos = 2;
    while (pos + 9 < b.length) {
      if (b[pos] !== 0xff) {
        pos++;
        continue;
      }
      const marker = b[pos + 1] as number;
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0xff) {
        pos += marker === 0xff ? 1 : 2;
        continue;
      }
      const len = b.readUInt16BE(pos + 2);
      const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isSof) return { format: "JPEG", width: b.readUInt16BE(pos + 7), height: b.readUInt16BE(pos + 5) };
      pos += 2 + len;
    }
  }
  return null;
}

class BitWriter {
  private bytes: number[] = [];
  private acc = 0;
  private n = 0;
  /** Writes `count` bits of `value`, least significant first (VP8L packing). */
  bits(value: number, count: number): void {
    for (let i = 0; i < count; i++) {
      this.acc |= ((value >>> i) & 1) << this.n;
      this.n++;
      if (this.n === 8) {
        this.bytes.push(this.acc);
        this.acc = 0;
        this.n = 0;
      }
    }
  }
  /** Writes a prefix code (most significant code bit first). */
  code(code: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) this.bits((code >>> i) & 1, 1);
  }
  finish(): Uint8Array {
    if (this.n > 0) this.bytes.push(this.acc);
    return Uint8Array.from(this.bytes);
  }
}

/** One VP8L prefix code: a single-symbol "simple" code (0 bits per use) or all 256 literals at length 8. */
function writePrefixCode(w: BitWriter, alphabetSize: number, single: number | undefined): void {
  if (single !== undefined) {
    w.bits(1, 1); // simple code
    w.bits(0, 1); // one symbol
    if (single < 2) {
      w.bits(0, 1);
      w.bits(single, 1);
    } else {
      w.bits(1, 1);
      w.bits(single, 8);
    }
    return;
  }
  w.bits(0, 1); // normal code
  // code length code: symbols 0 and 8 at length 1; kCodeLengthCodeOrder = 17,18,0,1,2,3,4,5,16,6,7,8,...
  w.bits(12 - 4, 4);
  const order = [17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8];
  for (const sym of order) w.bits(sym === 0 || sym === 8 ? 1 : 0, 3);
  w.bits(0, 1); // max_symbol = alphabet size
  for (let s = 0; s < alphabetSize; s++) w.code(s < 256 ? 1 : 0, 1); // canonical: length 0 -> "0", length 8 -> "1"
}

/** Lossless WebP (VP8L, no transforms) of an RGB/RGBA image. */
export function encodeWebpLossless(image: RawImage): Uint8Array {
  const { width, height, channels, data } = image;
  const n = width * height;
  const px = (i: number, c: number): number => {
    if (channels === 1 || channels === 2)
      return c === 3 ? (channels === 2 ? (data[i * 2 + 1] as number) : 255) : (data[i * channels] as number);
    if (c === 3) return channels === 4 ? (data[i * 4 + 3] as number) : 255;
    return data[i * channels + c] as number;
  };
  const constant = (c: number): number | undefined => {
    const first = px(0, c);
    for (let i = 1; i < n; i++) if (px(i, c) !== first) return undefined;
    return first;
  };
  const [r, g, b, a] = [constant(0), constant(1), constant(2), constant(3)];
  const w = new BitWriter();
  w.bits(width - 1, 14);
  w.bits(height - 1, 14);
  w.bits(a === 255 ? 0 : 1, 1);
  w.bits(0, 3); // version
  w.bits(0, 1); // no transform
  w.bits(0, 1); // no color cache
  w.bits(0, 1); // no meta prefix codes
  writePrefixCode(w, 256 + 24, g);
  writePrefixCode(w, 256, r);
  writePrefixCode(w, 256, b);
  writePrefixCode(w, 256, a);
  writePrefixCode(w, 40, 0);
  for (let i = 0; i < n; i++) {
    if (g === undefined) w.code(px(i, 1), 8);
    if (r === undefined) w.code(px(i, 0), 8);
    if (b === undefined) w.code(px(i, 2), 8);
    if (a === undefined) w.code(px(i, 3), 8);
  }
  const payload = Buffer.concat([Uint8Array.of(0x2f), w.finish()]);
  const pad = payload.length % 2;
  const vp8l = Buffer.concat([Buffer.from("VP8L", "latin1"), u32le(payload.length), payload, new Uint8Array(pad)]);
  return new Uint8Array(
    Buffer.concat([Buffer.from("RIFF", "latin1"), u32le(4 + vp8l.length), Buffer.from("WEBP", "latin1"), vp8l]),
  );
}

function u32le(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}
