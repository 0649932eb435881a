/**
 * Optional output conversion to the job's `output.format` (png | jpeg | webp) with sharp, loaded only when a
 * job asks for it (it is large; an idle runner never loads it).
 */
export type OutputFormat = "png" | "jpeg" | "webp";

const SOURCE_TYPES = new Set(["image/png", "image/jpeg", "image/webp", "image/bmp", "image/tiff"]);
const TARGET_TYPE: Record<OutputFormat, string> = { png: "image/png", jpeg: "image/jpeg", webp: "image/webp" };
const TARGET_EXT: Record<OutputFormat, string> = { png: "png", jpeg: "jpg", webp: "webp" };

export class ConversionError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ConversionError";
  }
}

/** Whether an output of this content type is converted for `format` (still images only, and only if different). */
export function wantsConversion(contentType: string, format: OutputFormat | null | undefined): boolean {
  if (!format) return false;
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  return SOURCE_TYPES.has(type) && type !== TARGET_TYPE[format];
}

/** "x_00001_.png" -> "x_00001_.jpg". */
export function convertedName(filename: string, format: OutputFormat): string {
  const base = filename.replace(/\.[A-Za-z0-9]{1,5}$/, "");
  return `${base}.${TARGET_EXT[format]}`;
}

type SharpModule = typeof import("sharp");
let sharpPromise: Promise<SharpModule["default"]> | null = null;

function loadSharp(): Promise<SharpModule["default"]> {
  sharpPromise ??= import("sharp").then(
    (mod) => mod.default,
    (err: unknown) => {
      sharpPromise = null;
      throw new ConversionError("image conversion needs the 'sharp' package, which is not installed", err);
    },
  );
  return sharpPromise;
}

export interface Converted {
  bytes: Buffer;
  contentType: string;
  /** False when the image is animated (converting would drop frames): the original is kept. */
  converted: boolean;
}

export async function convertImage(input: Buffer, format: OutputFormat, quality?: number): Promise<Converted> {
  const sharp = await loadSharp();
  try {
    const image = sharp(input, { animated: false, limitInputPixels: 268_402_689 });
    const meta = await image.metadata();
    if ((meta.pages ?? 1) > 1) return { bytes: input, contentType: "", converted: false };
    const out =
      format === "png"
        ? image.png()
        : format === "jpeg"
          ? image.flatten({ background: "#ffffff" }).jpeg({ quality: quality ?? 90, mozjpeg: true })
          : image.webp({ quality: quality ?? 90 });
    return { bytes: await out.toBuffer(), contentType: TARGET_TYPE[format], converted: true };
  } catch (err) {
    throw new ConversionError(`could not convert the image to ${format}: ${(err as Error).message}`, err);
  }
}
