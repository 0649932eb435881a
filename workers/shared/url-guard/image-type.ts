import type { ImageMimeType } from "./types.ts";

export const IMAGE_MIME_TYPES: readonly ImageMimeType[] = ["image/png", "image/jpeg", "image/webp", "image/gif"];

/** Human list for error messages. */
export const IMAGE_TYPES_TEXT = "image/png, image/jpeg, image/webp or image/gif";

function startsWith(bytes: Uint8Array, prefix: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + prefix.length) return false;
  return prefix.every((byte, i) => bytes[offset + i] === byte);
}

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];
const GIF87A = [0x47, 0x49, 0x46, 0x38, 0x37, 0x61];
const GIF89A = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61];
const RIFF = [0x52, 0x49, 0x46, 0x46];
const WEBP = [0x57, 0x45, 0x42, 0x50];

/** The image type named by the leading magic bytes, or null when they are not png/jpeg/webp/gif. */
export function sniffImageType(bytes: Uint8Array): ImageMimeType | null {
  if (startsWith(bytes, PNG)) return "image/png";
  if (startsWith(bytes, JPEG)) return "image/jpeg";
  if (startsWith(bytes, GIF87A) || startsWith(bytes, GIF89A)) return "image/gif";
  if (startsWith(bytes, RIFF) && startsWith(bytes, WEBP, 8)) return "image/webp";
  return null;
}

/** The essence of a Content-Type / data: mime value (lower case, no parameters). */
export function mimeEssence(value: string): string {
  return (value.split(";")[0] ?? "").trim().toLowerCase();
}

/**
 * Maps a declared type to one of the accepted image types, or null. `image/jpg` (a common misspelling
 * that browsers accept) counts as image/jpeg.
 */
export function acceptedImageType(declared: string): ImageMimeType | null {
  const essence = mimeEssence(declared);
  if (essence === "image/jpg") return "image/jpeg";
  return (IMAGE_MIME_TYPES as readonly string[]).includes(essence) ? (essence as ImageMimeType) : null;
}
