import { acceptedImageType, IMAGE_TYPES_TEXT, mimeEssence, sniffImageType } from "./image-type.ts";
import type { DataUrlCheck, UrlReject } from "./types.ts";

function reject(reason: string): UrlReject {
  return { ok: false, code: "unsafe_url", reason };
}

/** Percent-decodes an ASCII string (a serialised URL) to a binary string (one char per byte). */
function percentDecode(text: string): string {
  return text.replace(/%([0-9a-fA-F]{2})/g, (_match, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

function binaryToBytes(binary: string): Uint8Array {
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Checks a parsed data: URL following the Fetch standard's data: URL processor: the mime type is what
 * comes before the first comma, `;base64` switches to forgiving base64, otherwise the body is
 * percent-decoded. The declared type must be png/jpeg/webp/gif, the decoded size at most `maxBytes`, and
 * the magic bytes must match the declared type.
 */
export function checkDataUrl(url: URL, maxBytes: number): DataUrlCheck | UrlReject {
  const serialised = url.href.slice(0, url.hash === "" ? undefined : -url.hash.length);
  const rest = serialised.slice("data:".length);
  const comma = rest.indexOf(",");
  if (comma < 0) return reject("malformed data: URL (no comma before the data)");
  let mime = rest.slice(0, comma).trim();
  const encoded = rest.slice(comma + 1);
  const base64 = /;\s*base64$/i.exec(mime);
  if (base64 !== null) mime = mime.slice(0, base64.index).trim();
  const declared = mime === "" || mime.startsWith(";") ? "text/plain" : mimeEssence(mime);
  const mimeType = acceptedImageType(declared);
  if (mimeType === null) return reject(`data: URL type ${declared} is not allowed; use ${IMAGE_TYPES_TEXT}`);
  // Cheap bound before decoding: every decoded byte takes at most 4 characters of encoded text.
  if (encoded.length > maxBytes * 4 + 64) {
    return reject(`data: URL is larger than the ${maxBytes}-byte limit`);
  }
  let binary = percentDecode(encoded);
  if (base64 !== null) {
    try {
      binary = atob(binary);
    } catch {
      return reject("data: URL has malformed base64");
    }
  }
  if (binary.length > maxBytes) {
    return reject(`data: URL decodes to ${binary.length} bytes, over the ${maxBytes}-byte limit`);
  }
  const bytes = binaryToBytes(binary);
  const sniffed = sniffImageType(bytes);
  if (sniffed === null) {
    return reject(`data: URL declares ${mimeType} but its bytes are not a png, jpeg, webp or gif image`);
  }
  if (sniffed !== mimeType) return reject(`data: URL declares ${mimeType} but its bytes are ${sniffed}`);
  return { ok: true, kind: "data", url: null, mimeType, bytes };
}
