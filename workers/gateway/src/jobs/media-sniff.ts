/**
 * Pure: does an output's first bytes match the media type its runner declared? Only types with a known
 * signature are checked (images, video, audio, glTF); other declared types are served as attachments.
 */
import { mimeEssence, sniffImageType } from "@comfy-edge/shared/url-guard/image-type";

/** Bytes to read from the start of an object to check it. */
export const SNIFF_BYTES = 64;

const ascii = (bytes: Uint8Array, offset: number, text: string) =>
  bytes.length >= offset + text.length && [...text].every((ch, i) => bytes[offset + i] === ch.charCodeAt(0));

/** ISO base media (MP4, MOV, M4A, AVIF, HEIC): a `ftyp` box first. */
const isoBmff = (b: Uint8Array) => ascii(b, 4, "ftyp");
/** Matroska / WebM: the EBML header. */
const ebml = (b: Uint8Array) => b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3;
const riff = (b: Uint8Array, form: string) => ascii(b, 0, "RIFF") && ascii(b, 8, form);
const mp3 = (b: Uint8Array) => ascii(b, 0, "ID3") || (b.length >= 2 && b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0);

const SIGNATURES: Array<{ types: string[]; test: (b: Uint8Array) => boolean }> = [
  { types: ["image/png"], test: (b) => sniffImageType(b) === "image/png" },
  { types: ["image/jpeg", "image/jpg"], test: (b) => sniffImageType(b) === "image/jpeg" },
  { types: ["image/gif"], test: (b) => sniffImageType(b) === "image/gif" },
  { types: ["image/webp"], test: (b) => sniffImageType(b) === "image/webp" },
  { types: ["image/bmp"], test: (b) => ascii(b, 0, "BM") },
  { types: ["image/tiff"], test: (b) => ascii(b, 0, "II*\0") || ascii(b, 0, "MM\0*") },
  { types: ["image/avif", "image/heic", "image/heif"], test: isoBmff },
  { types: ["video/mp4", "video/quicktime", "audio/mp4", "audio/x-m4a", "audio/aac", "video/3gpp"], test: isoBmff },
  { types: ["video/webm", "audio/webm", "video/x-matroska"], test: ebml },
  { types: ["video/x-msvideo", "video/avi"], test: (b) => riff(b, "AVI ") },
  { types: ["audio/wav", "audio/x-wav", "audio/wave"], test: (b) => riff(b, "WAVE") },
  { types: ["audio/flac", "audio/x-flac"], test: (b) => ascii(b, 0, "fLaC") },
  { types: ["audio/ogg", "video/ogg", "audio/opus", "application/ogg"], test: (b) => ascii(b, 0, "OggS") },
  { types: ["audio/mpeg", "audio/mp3"], test: mp3 },
  { types: ["model/gltf-binary"], test: (b) => ascii(b, 0, "glTF") },
];

/** True when the declared type has a known signature and `head` (the object's first bytes) lacks it. */
export function contentMismatch(declared: string, head: Uint8Array): boolean {
  const essence = mimeEssence(declared);
  const signature = SIGNATURES.find((s) => s.types.includes(essence));
  return signature !== undefined && !signature.test(head);
}
