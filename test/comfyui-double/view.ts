/**
 * server.py's GET /view: annotated names ("x.png [output]"), type and subfolder (403 outside the folder), 400
 * for "..", 404 for missing files, mimetypes with html/js/css forced to octet-stream. The `preview=` and
 * `channel=` variants are not served: the runner asks for the files as written.
 */
import path from "node:path/posix";
import { absJoin, annotatedFilepath, commonpath, DIRS, type DirType, type FileStore, guessType } from "./files.ts";

export type ViewAnswer =
  | { status: 400 | 403 | 404 }
  | { status: 200; contentType: string; filename: string; bytes: Uint8Array };

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
  let contentType = guessType(filename) ?? "application/octet-stream";
  if (
    ["text/html", "text/html-sandboxed", "application/xhtml+xml", "text/javascript", "text/css"].includes(contentType)
  ) {
    contentType = "application/octet-stream";
  }
  return { status: 200, contentType, filename, bytes: stored.bytes };
}
