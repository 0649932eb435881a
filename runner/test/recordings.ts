/** The ComfyUI recordings (../shared/comfyui-protocol, copied beside the double) as test fixtures. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const RECORDINGS_DIR = join(import.meta.dirname, "..", "..", "test", "comfyui-double", "fixtures");

export interface TimelineEntry {
  kind: string;
  ws?: string;
  frame?: "text" | "binary";
  msg?: { type: string; data: unknown };
  len?: number;
  event_type?: number;
  head_hex?: string;
  decoded?: Record<string, unknown>;
  request?: { method: string; path: string; json?: unknown; note?: string };
  response?: { status: number; body?: unknown };
}

export interface Recording {
  scenario: string;
  timeline: TimelineEntry[];
}

export function recording(name: string): Recording {
  return JSON.parse(readFileSync(join(RECORDINGS_DIR, `${name}.json`), "utf8")) as Recording;
}

export function allRecordings(): Recording[] {
  return readdirSync(RECORDINGS_DIR)
    .filter((f) => /^\d\d_.*\.json$/.test(f))
    .sort()
    .map((f) => recording(f.replace(/\.json$/, "")));
}

/** HTTP exchanges whose request path starts with `path` (and whose note contains `note`, if given). */
export function exchanges(rec: Recording, method: string, path: string, note?: string): TimelineEntry[] {
  return rec.timeline.filter(
    (e) =>
      e.kind === "http" &&
      e.request?.method === method &&
      e.request.path.startsWith(path) &&
      (note === undefined || (e.request.note ?? "").includes(note)),
  );
}
