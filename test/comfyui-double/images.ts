/**
 * The double's stand-ins for ComfyUI's tensors: IMAGE = batch of 8-bit RGB frames (ComfyUI: float32 [B,H,W,3] in
 * 0..1; every value the built-in nodes make from 8-bit inputs is k/255, so 8 bits lose nothing that matters here),
 * MASK = batch of float32 planes. EmptyImage, ImageInvert and masks are exact; scaling and blurring go through sharp
 * (libvips), whose resampling and Gaussian differ from torch's in the last bits.
 */
import { createHash } from "node:crypto";
import sharp, { type KernelEnum, type Sharp } from "sharp";
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

/** ComfyUI's upscale_method -> sharp's resampling kernel (libvips; ComfyUI: torch interpolate / PIL Lanczos). */
const KERNELS: Record<string, keyof KernelEnum> = {
  "nearest-exact": "nearest",
  bilinear: "linear",
  area: "linear",
  bicubic: "cubic",
  lanczos: "lanczos3",
};

/** Each frame through sharp: `op` on the frame as raw RGB, the result read back as raw RGB of `width` x `height`. */
async function eachFrame(
  img: ImageValue,
  width: number,
  height: number,
  op: (frame: Sharp) => Sharp,
): Promise<ImageValue> {
  const raw = { width: img.width, height: img.height, channels: 3 as const };
  const frames = await Promise.all(
    img.frames.map(async (f) => new Uint8Array(await op(sharp(f, { raw })).raw().toBuffer())),
  );
  return { kind: "image", width, height, frames };
}

/** comfy.utils.common_upscale: width or height 0 keeps the aspect ratio; crop "center" crops to the target aspect
 * before resampling (sharp's fit "cover"), "disabled" stretches (fit "fill"). */
export function scaleImage(
  img: ImageValue,
  width: number,
  height: number,
  method: string,
  crop: string,
): Promise<ImageValue> {
  let w = width;
  let h = height;
  if (w === 0 && h === 0) return Promise.resolve(img);
  if (w === 0) w = Math.max(1, Math.round((img.width * h) / img.height));
  else if (h === 0) h = Math.max(1, Math.round((img.height * w) / img.width));
  checkAlloc(img.frames.length, h, w, 3);
  const options = { fit: crop === "center" ? "cover" : "fill", kernel: KERNELS[method] ?? "linear" } as const;
  return eachFrame(img, w, h, (f) => f.resize(w, h, options));
}

/** ImageBlur: a Gaussian blur of `sigma` (libvips; ComfyUI's kernel is cut at blur_radius, libvips' at ~3 sigma;
 * sigma below libvips' 0.3 is taken as 0.3). */
export function blurImage(img: ImageValue, radius: number, sigma: number): Promise<ImageValue> {
  if (radius <= 0) return Promise.resolve(img);
  return eachFrame(img, img.width, img.height, (f) => f.blur(Math.max(0.3, sigma)));
}

/** ImageBatch: image2 is resized (bilinear, center crop) to image1's size when they differ. */
export async function batchImages(a: ImageValue, b: ImageValue): Promise<ImageValue> {
  const b2 =
    a.width === b.width && a.height === b.height ? b : await scaleImage(b, a.width, a.height, "bilinear", "center");
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
