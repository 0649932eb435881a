/**
 * The double's stand-ins for ComfyUI's tensors: IMAGE = batch of 8-bit RGB frames (ComfyUI: float32 [B,H,W,3] in
 * 0..1; every value the built-in nodes make from 8-bit inputs is k/255, so 8 bits lose nothing that matters here),
 * MASK = batch of float32 planes. Ops are small and exact where ComfyUI's are (EmptyImage, ImageInvert, crop, batch,
 * nearest scaling) and approximations where they are numeric (bilinear for every smooth upscale method, box blur).
 */
import { createHash } from "node:crypto";
import { decodeImage, encodeJpeg, encodePng } from "./codec.ts";
import { PyError } from "./py.ts";

export interface ImageValue {
  kind: "image";
  width: number;
  height: number;
  /** one RGB buffer (width*height*3) per batch item */
  frames: Uint8Array[];
}

export interface MaskValue {
  kind: "mask";
  width: number;
  height: number;
  frames: Float32Array[];
}

/** Output of a node the double cannot really run (no schema or needs weights): identified by a digest. */
export interface OpaqueValue {
  kind: "opaque";
  type: string;
  digest: string;
}

export type TensorLike = ImageValue | MaskValue;

/** ComfyUI would run out of memory far earlier on a GPU host; the double refuses > 256 MiB of float32. */
const MAX_TENSOR_BYTES = 256 * 1024 * 1024;

function checkAlloc(batch: number, height: number, width: number, channels: number): void {
  const bytes = batch * height * width * channels * 4;
  if (bytes > MAX_TENSOR_BYTES) {
    throw new PyError(
      "RuntimeError",
      `[enforce fail at alloc_cpu.cpp:116] data. DefaultCPUAllocator: not enough memory: you tried to allocate ${bytes} bytes.`,
    );
  }
}

export function isImage(v: unknown): v is ImageValue {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "image";
}

export function isMask(v: unknown): v is MaskValue {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "mask";
}

export function isOpaque(v: unknown): v is OpaqueValue {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "opaque";
}

export function emptyImage(width: number, height: number, batch: number, color: number): ImageValue {
  checkAlloc(batch, height, width, 3);
  const r = (color >> 16) & 0xff;
  const g = (color >> 8) & 0xff;
  const b = color & 0xff;
  const frames: Uint8Array[] = [];
  for (let i = 0; i < batch; i++) {
    const f = new Uint8Array(width * height * 3);
    for (let p = 0; p < f.length; p += 3) {
      f[p] = r;
      f[p + 1] = g;
      f[p + 2] = b;
    }
    frames.push(f);
  }
  return { kind: "image", width, height, frames };
}

/** A deterministic image for values the double cannot compute (opaque upstream, undecodable uploads). */
export function synthImage(seed: string, width = 64, height = 64, batch = 1): ImageValue {
  const h = createHash("sha256").update(seed).digest();
  return emptyImage(width, height, batch, h.readUIntBE(0, 3));
}

export function invertImage(img: ImageValue): ImageValue {
  return {
    ...img,
    frames: img.frames.map((f) => {
      const out = new Uint8Array(f.length);
      for (let i = 0; i < f.length; i++) out[i] = 255 - (f[i] as number);
      return out;
    }),
  };
}

function resizeFrame(
  src: Uint8Array,
  sw: number,
  sh: number,
  dw: number,
  dh: number,
  channels: number,
  nearest: boolean,
): Uint8Array {
  const out = new Uint8Array(dw * dh * channels);
  for (let y = 0; y < dh; y++) {
    const fy = nearest ? Math.min(sh - 1, Math.floor(((y + 0.5) * sh) / dh)) : Math.max(0, ((y + 0.5) * sh) / dh - 0.5);
    const y0 = Math.min(sh - 1, Math.floor(fy));
    const y1 = Math.min(sh - 1, y0 + 1);
    const wy = nearest ? 0 : fy - y0;
    for (let x = 0; x < dw; x++) {
      const fx = nearest
        ? Math.min(sw - 1, Math.floor(((x + 0.5) * sw) / dw))
        : Math.max(0, ((x + 0.5) * sw) / dw - 0.5);
      const x0 = Math.min(sw - 1, Math.floor(fx));
      const x1 = Math.min(sw - 1, x0 + 1);
      const wx = nearest ? 0 : fx - x0;
      for (let c = 0; c < channels; c++) {
        const p00 = src[(y0 * sw + x0) * channels + c] as number;
        const p01 = src[(y0 * sw + x1) * channels + c] as number;
        const p10 = src[(y1 * sw + x0) * channels + c] as number;
        const p11 = src[(y1 * sw + x1) * channels + c] as number;
        const top = p00 + (p01 - p00) * wx;
        const bottom = p10 + (p11 - p10) * wx;
        out[(y * dw + x) * channels + c] = Math.round(top + (bottom - top) * wy);
      }
    }
  }
  return out;
}

function cropFrame(
  src: Uint8Array,
  sw: number,
  x: number,
  y: number,
  w: number,
  h: number,
  channels: number,
): Uint8Array {
  const out = new Uint8Array(w * h * channels);
  for (let row = 0; row < h; row++) {
    const start = ((y + row) * sw + x) * channels;
    out.set(src.subarray(start, start + w * channels), row * w * channels);
  }
  return out;
}

/** comfy.utils.common_upscale: optional center crop to the target aspect, then resample. */
export function scaleImage(img: ImageValue, width: number, height: number, method: string, crop: string): ImageValue {
  let w = width;
  let h = height;
  if (w === 0 && h === 0) return img;
  if (w === 0) w = Math.max(1, Math.round((img.width * h) / img.height));
  else if (h === 0) h = Math.max(1, Math.round((img.height * w) / img.width));
  checkAlloc(img.frames.length, h, w, 3);
  let frames = img.frames;
  let sw = img.width;
  let sh = img.height;
  if (crop === "center") {
    const oldAspect = sw / sh;
    const newAspect = w / h;
    let x = 0;
    let y = 0;
    if (oldAspect > newAspect) x = Math.round((sw - sw * (newAspect / oldAspect)) / 2);
    else if (oldAspect < newAspect) y = Math.round((sh - sh * (oldAspect / newAspect)) / 2);
    const cw = sw - x * 2;
    const ch = sh - y * 2;
    frames = frames.map((f) => cropFrame(f, sw, x, y, cw, ch, 3));
    sw = cw;
    sh = ch;
  }
  const nearest = method === "nearest-exact";
  return { kind: "image", width: w, height: h, frames: frames.map((f) => resizeFrame(f, sw, sh, w, h, 3, nearest)) };
}

function isUniform(f: Uint8Array): boolean {
  const r = f[0];
  const g = f[1];
  const b = f[2];
  for (let i = 3; i < f.length; i += 3) if (f[i] !== r || f[i + 1] !== g || f[i + 2] !== b) return false;
  return true;
}

/** One box-blur pass along rows (horizontal) or columns, edge pixels repeated. */
function boxPass(src: Uint8Array, w: number, h: number, radius: number, horizontal: boolean): Uint8Array {
  const out = new Uint8Array(src.length);
  const len = horizontal ? w : h;
  const lines = horizontal ? h : w;
  const step = horizontal ? 3 : w * 3;
  const lineStep = horizontal ? w * 3 : 3;
  const size = 2 * radius + 1;
  const last = (len - 1) * step;
  for (let line = 0; line < lines; line++) {
    const base = line * lineStep;
    for (let c = 0; c < 3; c++) {
      const b = base + c;
      let sum = 0;
      for (let i = -radius; i <= radius; i++) sum += src[b + (i < 0 ? 0 : i >= len ? last : i * step)] as number;
      for (let i = 0; i < len; i++) {
        out[b + i * step] = (sum + radius) / size;
        const add = i + radius + 1;
        const sub = i - radius;
        sum += (src[b + (add >= len ? last : add * step)] as number) - (src[b + (sub < 0 ? 0 : sub * step)] as number);
      }
    }
  }
  return out;
}

/** ImageBlur approximation: separable box blur of radius blur_radius (ComfyUI: gaussian with sigma). */
export function blurImage(img: ImageValue, radius: number): ImageValue {
  if (radius <= 0) return img;
  const { width: w, height: h } = img;
  return {
    ...img,
    frames: img.frames.map((f) => (isUniform(f) ? f : boxPass(boxPass(f, w, h, radius, true), w, h, radius, false))),
  };
}

/** ImageBatch: image2 is resized (bilinear, center crop) to image1's size when they differ. */
export function batchImages(a: ImageValue, b: ImageValue): ImageValue {
  const b2 = a.width === b.width && a.height === b.height ? b : scaleImage(b, a.width, a.height, "bilinear", "center");
  checkAlloc(a.frames.length + b2.frames.length, a.height, a.width, 3);
  return { kind: "image", width: a.width, height: a.height, frames: [...a.frames, ...b2.frames] };
}

export function solidMask(value: number, width: number, height: number): MaskValue {
  checkAlloc(1, height, width, 1);
  return { kind: "mask", width, height, frames: [new Float32Array(width * height).fill(value)] };
}

export function maskToImage(mask: MaskValue): ImageValue {
  return {
    kind: "image",
    width: mask.width,
    height: mask.height,
    frames: mask.frames.map((m) => {
      const f = new Uint8Array(m.length * 3);
      for (let i = 0; i < m.length; i++) {
        const v = Math.max(0, Math.min(255, Math.trunc(255 * (m[i] as number))));
        f[i * 3] = v;
        f[i * 3 + 1] = v;
        f[i * 3 + 2] = v;
      }
      return f;
    }),
  };
}

/** LoadImage: any image sharp decodes keeps its pixels (the first frame); its alpha becomes the mask. */
export async function loadImageBytes(
  bytes: Uint8Array,
  displayPath: string,
): Promise<{ image: ImageValue; mask: MaskValue }> {
  const raw = await decodeImage(bytes);
  if (raw === null || raw.width === 0 || raw.height === 0) {
    throw new PyError("PIL.UnidentifiedImageError", `cannot identify image file '${displayPath}'`);
  }
  checkAlloc(1, raw.height, raw.width, 3);
  const n = raw.width * raw.height;
  const rgb = new Uint8Array(n * 3);
  const alpha = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    rgb[i * 3] = raw.data[i * 4] as number;
    rgb[i * 3 + 1] = raw.data[i * 4 + 1] as number;
    rgb[i * 3 + 2] = raw.data[i * 4 + 2] as number;
    alpha[i] = 1 - (raw.data[i * 4 + 3] as number) / 255;
  }
  const image: ImageValue = { kind: "image", width: raw.width, height: raw.height, frames: [rgb] };
  const mask: MaskValue = raw.hasAlpha
    ? { kind: "mask", width: raw.width, height: raw.height, frames: [alpha] }
    : { kind: "mask", width: 64, height: 64, frames: [new Float32Array(64 * 64)] };
  return { image, mask };
}

export function framePng(
  img: ImageValue,
  index: number,
  level: number,
  text?: Array<[string, string]>,
): Promise<Uint8Array> {
  const data = img.frames[index] as Uint8Array;
  return encodePng({ width: img.width, height: img.height, channels: 3, data }, { level, text });
}

/** A preview sent with a progress update (default PNG). */
export type PreviewFrame = { image: ImageValue; index: number; format?: "png" | "jpeg" };

/** A preview frame: PNG (an image node's own output, as 0.3.64 sent them) or JPEG (a sampler's latent preview). */
export function framePreview(img: ImageValue, index: number, format: "png" | "jpeg"): Promise<Uint8Array> {
  if (format === "png") return framePng(img, index, 1);
  const data = img.frames[index] as Uint8Array;
  return encodeJpeg({ width: img.width, height: img.height, channels: 3, data });
}

/** Stand-in image for a value that is not an IMAGE (opaque upstream output). */
export function asImage(value: unknown, what: string): ImageValue {
  if (isImage(value)) return value;
  if (isOpaque(value)) return synthImage(value.digest);
  if (isMask(value)) return maskToImage(value);
  const typeName = value === null ? "NoneType" : typeof value === "number" ? "int" : typeof value;
  throw new PyError("AttributeError", `'${typeName}' object has no attribute '${what}'`);
}

// ---- torch-like repr for execution_error current_inputs ----

const EDGE = 3;

function formatScalars(values: number[]): (v: number) => string {
  const intMode = values.every((v) => Number.isInteger(v));
  const fmt = intMode ? (v: number) => `${v.toFixed(0)}.` : (v: number) => v.toFixed(4);
  const width = Math.max(...values.map((v) => fmt(v).length), 1);
  return (v) => fmt(v).padStart(width, " ");
}

/** str(tensor) for an image/mask, summarised like torch (threshold 1000, edgeitems 3, precision 4). */
export function tensorRepr(t: TensorLike): string {
  const shape = t.kind === "image" ? [t.frames.length, t.height, t.width, 3] : [t.frames.length, t.height, t.width];
  const get = (idx: number[]): number => {
    const [b, y, x, c] = idx as [number, number, number, number | undefined];
    if (t.kind === "image") return ((t.frames[b] as Uint8Array)[(y * t.width + x) * 3 + (c ?? 0)] as number) / 255;
    return (t.frames[b] as Float32Array)[y * t.width + x] as number;
  };
  const numel = shape.reduce((a, b) => a * b, 1);
  const summarize = numel > 1000;
  const pick = (n: number): Array<number | null> =>
    summarize && n > 2 * EDGE
      ? [...Array.from({ length: EDGE }, (_, i) => i), null, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)]
      : Array.from({ length: n }, (_, i) => i);
  const shown: number[] = [];
  const collect = (dim: number, idx: number[]): void => {
    if (dim === shape.length) {
      shown.push(get(idx));
      return;
    }
    for (const i of pick(shape[dim] as number)) if (i !== null) collect(dim + 1, [...idx, i]);
  };
  collect(0, []);
  const fmt = formatScalars(shown.map((v) => Number.parseFloat(v.toFixed(4))));
  const render = (dim: number, idx: number[], indent: number): string => {
    const n = shape[dim] as number;
    if (dim === shape.length - 1) {
      return `[${pick(n)
        .map((i) => (i === null ? "..." : fmt(Number.parseFloat(get([...idx, i]).toFixed(4)))))
        .join(", ")}]`;
    }
    const rest = shape.length - dim - 1;
    const slices = pick(n).map((i) => (i === null ? "..." : render(dim + 1, [...idx, i], indent + 1)));
    return `[${slices.join(`,${"\n".repeat(rest)}${" ".repeat(indent + 1)}`)}]`;
  };
  return `tensor(${render(0, [], 7)})`;
}
