/**
 * ComfyUI's input/, output/ and temp/ folders (real files under a temporary directory), with the path rules of folder_paths.py
 * (get_save_image_path counters and its "outside the output folder" error, annotated names like "x.png [output]")
 * and of server.py's /upload/image (dedupe by content hash, "name (1).png").
 * Paths are POSIX and absolute under /srv/comfyui/data, like the recording's normalised tracebacks.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import path from "node:path/posix";
import { PyError, TRACEBACKS } from "./py.ts";

export type DirType = "input" | "output" | "temp";

export const BASE_DIR = "/srv/comfyui/data";
export const DIRS: Record<DirType, string> = {
  input: `${BASE_DIR}/input`,
  output: `${BASE_DIR}/output`,
  temp: `${BASE_DIR}/temp`,
};

export interface StoredFile {
  bytes: Uint8Array;
  mtimeMs: number;
}

/** os.path.normpath */
export function normpath(p: string): string {
  if (p === "") return ".";
  const n = path.normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

/** os.path.join(a, b) (an absolute b replaces a) followed by os.path.abspath */
export function absJoin(...parts: string[]): string {
  return path.resolve("/", ...parts);
}

/** os.path.commonpath for two absolute paths */
export function commonpath(a: string, b: string): string {
  const pa = path.normalize(a).split("/").filter(Boolean);
  const pb = path.normalize(b).split("/").filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < Math.min(pa.length, pb.length) && pa[i] === pb[i]; i++) out.push(pa[i] as string);
  return `/${out.join("/")}`;
}

/** os.path.splitext */
export function splitext(p: string): [string, string] {
  const sepIndex = p.lastIndexOf("/");
  const dotIndex = p.lastIndexOf(".");
  if (dotIndex > sepIndex) {
    for (let i = sepIndex + 1; i < dotIndex; i++) if (p[i] !== ".") return [p.slice(0, dotIndex), p.slice(dotIndex)];
  }
  return [p, ""];
}

/**
 * ComfyUI's folders on disk, like the real server: the virtual absolute paths above (kept for tracebacks and
 * messages) live under `root` (`<root>/srv/comfyui/data/output/...`), so a runner beside the double can see
 * and delete the files it wrote, and what it deletes is gone for the double too.
 */
export class FileStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
    for (const dir of Object.values(DIRS)) this.makedirs(dir);
  }

  /** Where a virtual absolute path is on disk. */
  real(absPath: string): string {
    return join(this.root, absPath);
  }

  write(absPath: string, bytes: Uint8Array): void {
    this.makedirs(path.dirname(absPath));
    writeFileSync(this.real(absPath), bytes);
  }

  read(absPath: string): StoredFile | undefined {
    try {
      const real = this.real(absPath);
      const stats = statSync(real);
      if (!stats.isFile()) return undefined;
      return { bytes: new Uint8Array(readFileSync(real)), mtimeMs: stats.mtimeMs };
    } catch {
      return undefined;
    }
  }

  isFile(absPath: string): boolean {
    return statSync(this.real(absPath), { throwIfNoEntry: false })?.isFile() ?? false;
  }

  isDir(absPath: string): boolean {
    return statSync(this.real(absPath), { throwIfNoEntry: false })?.isDirectory() ?? false;
  }

  exists(absPath: string): boolean {
    return this.isFile(absPath) || this.isDir(absPath);
  }

  makedirs(absDir: string): void {
    mkdirSync(this.real(absDir), { recursive: true });
  }

  /** os.listdir: names of files and directories directly inside absDir; throws FileNotFoundError like Python. */
  listdir(absDir: string): string[] {
    if (!this.isDir(absDir)) throw new PyError("FileNotFoundError", `[Errno 2] No such file or directory: '${absDir}'`);
    return readdirSync(this.real(absDir));
  }

  /** ComfyUI empties temp/ at startup. */
  clearTemp(): void {
    rmSync(this.real(DIRS.temp), { recursive: true, force: true });
    this.makedirs(DIRS.temp);
  }

  /** Removes everything (the double is closed). */
  destroy(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** folder_paths.annotated_filepath: "name [output]" -> ("name", output dir) */
export function annotatedFilepath(name: string): [string, DirType | undefined] {
  if (name.endsWith("[output]")) return [name.slice(0, -9), "output"];
  if (name.endsWith("[input]")) return [name.slice(0, -8), "input"];
  if (name.endsWith("[temp]")) return [name.slice(0, -7), "temp"];
  return [name, undefined];
}

/** folder_paths.get_annotated_filepath(name, default_dir=input) */
export function annotatedInputPath(name: string): string {
  const [n, dir] = annotatedFilepath(name);
  return absJoin(DIRS[dir ?? "input"], n);
}

function pyIntOrZero(s: string): number {
  const t = s.trim();
  return /^[+-]?\d+(?:_\d+)*$/.test(t) ? Number.parseInt(t.replaceAll("_", ""), 10) : 0;
}

/** folder_paths.get_save_image_path */
export function getSaveImagePath(
  store: FileStore,
  filenamePrefixIn: string,
  outputDir: string,
  imageWidth: number,
  imageHeight: number,
): { fullOutputFolder: string; filename: string; counter: number; subfolder: string } {
  let filenamePrefix = filenamePrefixIn;
  if (filenamePrefix.includes("%")) {
    const now = new Date();
    const two = (n: number) => String(n).padStart(2, "0");
    filenamePrefix = filenamePrefix
      .replaceAll("%width%", String(imageWidth))
      .replaceAll("%height%", String(imageHeight))
      .replaceAll("%year%", String(now.getFullYear()))
      .replaceAll("%month%", two(now.getMonth() + 1))
      .replaceAll("%day%", two(now.getDate()))
      .replaceAll("%hour%", two(now.getHours()))
      .replaceAll("%minute%", two(now.getMinutes()))
      .replaceAll("%second%", two(now.getSeconds()));
  }
  const norm = normpath(filenamePrefix);
  const subfolderRaw = path.dirname(norm);
  const subfolder = subfolderRaw === "." ? "" : subfolderRaw;
  const filename = path.basename(norm);
  const fullOutputFolder = absJoin(outputDir, subfolder);
  const common = commonpath(outputDir, fullOutputFolder);
  if (common !== outputDir) {
    // 0.33's message (0.3.64 added a "commonpath:" line)
    throw new PyError(
      "Exception",
      "**** ERROR: Saving image outside the output folder is not allowed." +
        `
 full_output_folder: ${fullOutputFolder}` +
        `
         output_dir: ${outputDir}`,
      TRACEBACKS.save_outside_output,
    );
  }
  const prefixLen = path.basename(filenamePrefix).length;
  let counter = 1;
  if (store.isDir(fullOutputFolder)) {
    let best: [number, string] | undefined;
    for (const f of store.listdir(fullOutputFolder)) {
      const prefix = f.slice(0, prefixLen + 1);
      const digits = pyIntOrZero((f.slice(prefixLen + 1).split("_")[0] as string) ?? "");
      if (prefix.slice(0, -1) === filename && prefix.endsWith("_")) {
        if (best === undefined || digits > best[0] || (digits === best[0] && prefix > best[1])) best = [digits, prefix];
      }
    }
    if (best !== undefined) counter = best[0] + 1;
  } else {
    store.makedirs(fullOutputFolder);
  }
  return { fullOutputFolder, filename, counter, subfolder };
}

export type UploadResult =
  | { status: 200; name: string; subfolder: string; type: string; path: string; stored: boolean }
  | { status: 400 | 500 };

/** server.py image_upload (POST /upload/image) */
export function uploadImage(
  store: FileStore,
  file: { filename: string; bytes: Uint8Array },
  fields: { type?: string; subfolder?: string; overwrite?: string },
): UploadResult {
  const type = fields.type ?? "input";
  if (type !== "input" && type !== "output" && type !== "temp") return { status: 500 }; // UnboundLocalError
  const uploadDir = DIRS[type];
  let filename = file.filename;
  if (!filename) return { status: 400 };
  const subfolder = fields.subfolder ?? "";
  const fullOutputFolder = absJoin(uploadDir, normpath(subfolder));
  let filepath = absJoin(fullOutputFolder, filename);
  if (commonpath(uploadDir, filepath) !== uploadDir) return { status: 400 };
  if (path.dirname(filepath) !== fullOutputFolder && !store.isDir(path.dirname(filepath))) return { status: 500 };
  store.makedirs(fullOutputFolder);
  const [stem, ext] = splitext(filename);
  let duplicate = false;
  if (!(fields.overwrite === "true" || fields.overwrite === "1")) {
    let i = 1;
    while (store.exists(filepath)) {
      const existing = store.read(filepath);
      if (existing !== undefined && sha256(existing.bytes) === sha256(file.bytes)) {
        duplicate = true;
        break;
      }
      filename = `${stem} (${i})${ext}`;
      filepath = absJoin(fullOutputFolder, filename);
      i++;
    }
  }
  if (!duplicate) store.write(filepath, file.bytes);
  return { status: 200, name: filename, subfolder, type, path: filepath, stored: !duplicate };
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

const MIME: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".bmp": "image/bmp",
  ".tif": "image/tiff",
  ".tiff": "image/tiff",
  ".svg": "image/svg+xml",
  ".mp4": "video/mp4",
  ".webm": "video/webm",
  ".mov": "video/quicktime",
  ".mkv": "video/x-matroska",
  ".mp3": "audio/mpeg",
  ".flac": "audio/flac",
  ".wav": "audio/x-wav",
  ".ogg": "audio/ogg",
  ".opus": "audio/ogg",
  ".json": "application/json",
  ".txt": "text/plain",
  ".glb": "model/gltf-binary",
  ".html": "text/html",
  ".htm": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".xhtml": "application/xhtml+xml",
};

/** mimetypes.guess_type(name)[0] */
export function guessType(name: string): string | undefined {
  return MIME[splitext(name)[1].toLowerCase()];
}

/** LoadImage's combo: image files directly inside input/, sorted. */
export function inputImageFiles(store: FileStore): string[] {
  return store
    .listdir(DIRS.input)
    .filter((f) => store.isFile(absJoin(DIRS.input, f)) && (guessType(f) ?? "").startsWith("image"))
    .sort();
}
