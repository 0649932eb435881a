/**
 * How job outputs are served to clients (the authenticated download and the signed R2 URL): only media
 * types a browser renders without running anything are served as such, `inline`; anything else the
 * runner labelled (text/html, image/svg+xml, ...) is `application/octet-stream` as an attachment, so an
 * output can never become a page on the API's origin. The file name goes in `Content-Disposition` as
 * an ASCII fallback plus the exact UTF-8 name (RFC 6266 with RFC 5987/8187 encoding).
 */

/** Media types served inline with their own Content-Type. */
export const INLINE_MEDIA_TYPES: ReadonlySet<string> = new Set([
  "image/png",
  "image/jpeg",
  "image/webp",
  "image/gif",
  "image/avif",
  "video/mp4",
  "video/webm",
  "audio/mpeg",
  "audio/mp4",
  "audio/ogg",
  "audio/wav",
  "audio/webm",
  "audio/flac",
]);

export const FALLBACK_MEDIA_TYPE = "application/octet-stream";

/** `default-src 'none'; sandbox`: even a response a browser would render runs no script and loads nothing. */
export const DOWNLOAD_CSP = "default-src 'none'; sandbox";

export interface DownloadHeaders {
  "content-type": string;
  "content-disposition": string;
  "x-content-type-options": "nosniff";
  "content-security-policy": string;
}

/** The media type without parameters, lower-cased (`Image/PNG; x=1` -> `image/png`). */
function essence(contentType: string): string {
  return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

/** The Content-Type an output is served with: its own when it is a known media type, else octet-stream. */
export function servedContentType(contentType: string): string {
  const type = essence(contentType);
  return INLINE_MEDIA_TYPES.has(type) ? type : FALLBACK_MEDIA_TYPE;
}

/** RFC 5987 `value-chars`: percent-encode everything but attr-char. */
function rfc5987(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );
}

/**
 * `inline|attachment; filename="<ascii fallback>"; filename*=UTF-8''<exact name>`. The fallback keeps
 * printable ASCII except quote and backslash (replaced by `_`); path separators are dropped from both.
 */
export function contentDisposition(type: "inline" | "attachment", filename: string): string {
  const base = filename.split(/[/\\]/).pop()?.trim() || "output";
  const fallback = base.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  return `${type}; filename="${fallback}"; filename*=UTF-8''${rfc5987(base)}`;
}

/** Every header that decides how a browser treats a downloaded output. */
export function downloadHeaders(output: { content_type: string; filename: string }): DownloadHeaders {
  const type = servedContentType(output.content_type);
  return {
    "content-type": type,
    "content-disposition": contentDisposition(type === FALLBACK_MEDIA_TYPE ? "attachment" : "inline", output.filename),
    "x-content-type-options": "nosniff",
    "content-security-policy": DOWNLOAD_CSP,
  };
}
