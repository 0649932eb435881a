/**
 * `/history/{prompt_id}` entries (pure): how a prompt ended, and every output it produced. History is the
 * source of truth; the websocket only makes the runner faster.
 */
import { z } from "zod";
import type { ExecutionErrorData } from "./errors.ts";

export const HistoryEntry = z.looseObject({
  prompt: z.array(z.unknown()).optional(),
  outputs: z.record(z.string(), z.unknown()).default({}),
  status: z
    .looseObject({
      status_str: z.string().nullish(),
      completed: z.boolean().nullish(),
      messages: z.array(z.tuple([z.string(), z.unknown()]).rest(z.unknown())).default([]),
    })
    .nullish(),
  meta: z.unknown().optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** GET /history/{id} -> `{id: entry}` or `{}` while the prompt is queued or running (or unknown). */
export const HistoryResponse = z.record(z.string(), z.unknown());

export type PromptOutcome =
  | { status: "success"; startedAt: number | null; endedAt: number | null }
  | { status: "error"; data: ExecutionErrorData; startedAt: number | null; endedAt: number | null }
  | { status: "interrupted"; nodeId: string | null; startedAt: number | null; endedAt: number | null };

const Timestamped = z.looseObject({ timestamp: z.number().optional() });
const ErrorData = z.looseObject({
  node_id: z.string().nullish(),
  node_type: z.string().nullish(),
  exception_message: z.string().nullish(),
  exception_type: z.string().nullish(),
  traceback: z.array(z.string()).nullish(),
  executed: z.array(z.string()).optional(),
});
const InterruptedData = z.looseObject({ node_id: z.string().nullish() });

/** How a finished prompt ended, from its history entry; null if the entry does not say (still running). */
export function outcomeFromHistory(entry: HistoryEntry): PromptOutcome | null {
  const status = entry.status;
  if (!status) return null;
  let startedAt: number | null = null;
  let endedAt: number | null = null;
  let error: ExecutionErrorData | null = null;
  let interrupted: { nodeId: string | null } | null = null;
  for (const message of status.messages) {
    const [event, data] = message;
    const stamped = Timestamped.safeParse(data);
    const at = stamped.success ? (stamped.data.timestamp ?? null) : null;
    if (event === "execution_start") startedAt = at;
    else if (event === "execution_success") endedAt = at;
    else if (event === "execution_error") {
      endedAt = at;
      const parsed = ErrorData.safeParse(data);
      error = parsed.success ? parsed.data : {};
    } else if (event === "execution_interrupted") {
      endedAt = at;
      const parsed = InterruptedData.safeParse(data);
      interrupted = { nodeId: parsed.success ? (parsed.data.node_id ?? null) : null };
    }
  }
  if (error) return { status: "error", data: error, startedAt, endedAt };
  if (interrupted) return { status: "interrupted", nodeId: interrupted.nodeId, startedAt, endedAt };
  if (status.status_str === "success" || status.completed === true) return { status: "success", startedAt, endedAt };
  if (status.status_str === "error") {
    return {
      status: "error",
      data: { exception_message: "ComfyUI reported the prompt as failed" },
      startedAt,
      endedAt,
    };
  }
  return null;
}

// ---- outputs -----------------------------------------------------------------------------------------

export interface OutputFile {
  kind: "file";
  node_id: string;
  filename: string;
  subfolder: string;
  /** ComfyUI folder: output | temp | input. */
  type: string;
  content_type: string;
}

export interface OutputText {
  kind: "text";
  node_id: string;
  filename: string;
  text: string;
  content_type: string;
}

export type CollectedOutput = OutputFile | OutputText;

const FileRef = z.looseObject({
  filename: z.string().min(1),
  subfolder: z.string().nullish(),
  type: z.string().nullish(),
  format: z.string().nullish(),
});

const CONTENT_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  avif: "image/avif",
  svg: "image/svg+xml",
  mp4: "video/mp4",
  m4v: "video/mp4",
  webm: "video/webm",
  mov: "video/quicktime",
  mkv: "video/x-matroska",
  avi: "video/x-msvideo",
  wav: "audio/wav",
  mp3: "audio/mpeg",
  flac: "audio/flac",
  ogg: "audio/ogg",
  opus: "audio/ogg",
  m4a: "audio/mp4",
  glb: "model/gltf-binary",
  gltf: "model/gltf+json",
  obj: "model/obj",
  json: "application/json",
  txt: "text/plain; charset=utf-8",
};

export function contentTypeFor(filename: string, format?: string | null): string {
  if (format && /^[a-z]+\/[\w.+-]+$/i.test(format)) return format.toLowerCase();
  const ext = /\.([A-Za-z0-9]+)$/.exec(filename)?.[1]?.toLowerCase();
  return (ext && CONTENT_TYPES[ext]) || "application/octet-stream";
}

/** Numeric-aware node id order ("2" < "10" < "10:3"). */
export function compareNodeIds(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/**
 * Every output of a prompt: files under any key (images, gifs, video, audio, 3d, ...) and `text` strings.
 * Previews (type "temp", e.g. PreviewImage) count only when the prompt saved nothing else.
 */
export function collectOutputs(outputs: Record<string, unknown>): CollectedOutput[] {
  const files: OutputFile[] = [];
  const texts: OutputText[] = [];
  const seen = new Set<string>();
  for (const nodeId of Object.keys(outputs).sort(compareNodeIds)) {
    const value = outputs[nodeId];
    if (typeof value !== "object" || value === null || Array.isArray(value)) continue;
    for (const [key, items] of Object.entries(value)) {
      if (!Array.isArray(items)) continue;
      if (key === "text") {
        items.forEach((item, i) => {
          if (typeof item === "string") {
            texts.push({
              kind: "text",
              node_id: nodeId,
              filename: `${nodeId}-${i + 1}.txt`,
              text: item,
              content_type: "text/plain; charset=utf-8",
            });
          }
        });
        continue;
      }
      for (const item of items) {
        const ref = FileRef.safeParse(item);
        if (!ref.success) continue;
        const subfolder = ref.data.subfolder ?? "";
        const type = ref.data.type ?? "output";
        const id = `${type}/${subfolder}/${ref.data.filename}`;
        if (seen.has(id)) continue;
        seen.add(id);
        files.push({
          kind: "file",
          node_id: nodeId,
          filename: ref.data.filename,
          subfolder,
          type,
          content_type: contentTypeFor(ref.data.filename, ref.data.format),
        });
      }
    }
  }
  const saved = files.filter((f) => f.type !== "temp");
  return [...(saved.length > 0 ? saved : files), ...texts];
}

/** Every file a prompt's outputs name (saved files and previews alike), for removing them afterwards. */
export function fileRefs(
  outputs: Record<string, unknown>,
): Array<{ type: string; subfolder: string; filename: string }> {
  const refs: Array<{ type: string; subfolder: string; filename: string }> = [];
  for (const value of Object.values(outputs)) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) continue;
    for (const items of Object.values(value)) {
      if (!Array.isArray(items)) continue;
      for (const item of items) {
        const ref = FileRef.safeParse(item);
        if (ref.success) {
          refs.push({
            type: ref.data.type ?? "output",
            subfolder: ref.data.subfolder ?? "",
            filename: ref.data.filename,
          });
        }
      }
    }
  }
  return refs;
}
