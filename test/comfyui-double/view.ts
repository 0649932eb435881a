/**
 * server.py's GET /view: annotated names ("x.png [output]"), type and subfolder (403 outside the folder), 400
 * for "..", 404 for missing files, `preview=webp|jpeg;NN` and `channel=rgb|a` variants, mimetypes with
 * html/js/css forced to octet-stream.
 */
import path from "node:path/posix";
import { absJoin, annotatedFilepath, commonpath, DIRS, type DirType, type FileStore, guessType } from "./files.ts";
import { encodeJpeg } from "./jpeg.ts";
import { decodePng, encodePng, encodeWebpLossless, type RawImage } from "./png.ts";

export type ViewAnswer =
  | { status: 400 | 403 | 404 }
  | { status: 200; contentType: string; filename: string; bytes: Uint8Array };

function opaque(image: RawImage): Uint8Array {
  const out = new Uint8Array(image.data);
  if (image.channels === 4) for (let i = 3; i < out.length; i += 4) out[i] = 255;
  return out;
}

export function viewAnswer(files: FileStore, q: URLSearchParams): ViewAnswer {
  const raw = q.get("filename");
  if (raw === null) return { status: 404 };
  const [annotated, annotatedDir] = annotatedFilepath(raw);
  if (!annotated) return { status: 400 };
  if (annotated.startsWith("/") || annotated.includes("..")) return { status: 400 };
  let dirType: DirType | undefined = annotatedDir;
  if (dirType === undefined) {
    const t = q.get("type") ?? "output";
    dirType = t === "input" || t === "output" || t === "temp" ? t : undefined;
  }
  if (dirType === undefined) return { status: 400 };
  let outputDir = DIRS[dirType];
  const subfolder = q.get("subfolder");
  if (subfolder !== null) {
    const full = absJoin(outputDir, subfolder);
    if (commonpath(full, outputDir) !== outputDir) return { status: 403 };
    outputDir = full;
  }
  const filename = path.basename(annotated);
  const stored = files.read(absJoin(outputDir, filename));
  if (stored === undefined) return { status: 404 };
  const channel = q.get("channel");
  const preview = q.get("preview");
  if (preview !== null) {
    const info = preview.split(";");
    let format = info[0] as string;
    if ((format !== "webp" && format !== "jpeg") || (channel ?? "").includes("a")) format = "webp";
    const last = info[info.length - 1] as string;
    const quality = /^\d+$/.test(last) ? Number(last) : 90;
    const decoded = decodePng(stored.bytes);
    // undecodable (non-PNG) files: the stored bytes under the preview's content type
    if (decoded === null) return { status: 200, contentType: `image/${format}`, filename, bytes: stored.bytes };
    const rgbOnly = format === "jpeg" || channel === "rgb";
    const bytes =
      format === "jpeg"
        ? encodeJpeg(decoded, quality)
        : encodeWebpLossless(rgbOnly ? { ...decoded, data: opaque(decoded) } : decoded);
    return { status: 200, contentType: `image/${format}`, filename, bytes: bytes };
  }
  if (channel === "rgb" || channel === "a") {
    const decoded = decodePng(stored.bytes);
    if (decoded === null) return { status: 200, contentType: "image/png", filename, bytes: stored.bytes };
    const n = decoded.width * decoded.height;
    const out = new Uint8Array(n * (channel === "rgb" ? 3 : 4));
    for (let i = 0; i < n; i++) {
      if (channel === "rgb") {
        out[i * 3] = decoded.data[i * 4] as number;
        out[i * 3 + 1] = decoded.data[i * 4 + 1] as number;
        out[i * 3 + 2] = decoded.data[i * 4 + 2] as number;
      } else out[i * 4 + 3] = decoded.data[i * 4 + 3] as number;
    }
    const png = encodePng({
      width: decoded.width,
      height: decoded.height,
      channels: channel === "rgb" ? 3 : 4,
      data: out,
    });
    return { status: 200, contentType: "image/png", filename, bytes: png };
  }
  let contentType = guessType(filename) ?? "application/octet-stream";
  if (
    ["text/html", "text/html-sandboxed", "application/xhtml+xml", "text/javascript", "text/css"].includes(contentType)
  ) {
    contentType = "application/octet-stream";
  }
  return { status: 200, contentType, filename, bytes: stored.bytes };
}
