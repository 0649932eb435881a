/** Reads what a capability report is built from off a ComfyUI server (docs/capabilities.md). */
import { parseJson, sendText } from "./http.ts";

/** /models folders that hold no model files a workflow names. */
const SKIP_FOLDERS = new Set(["configs", "custom_nodes"]);
const OBJECT_INFO_MAX_BYTES = 64 * 1024 * 1024;

export interface ComfyReadings {
  objectInfo: Record<string, unknown>;
  models: Record<string, string[]> | null;
  systemStats: unknown;
}

async function getJson(base: string, path: string, signal: AbortSignal, maxBytes?: number): Promise<unknown | null> {
  const res = await sendText({ method: "GET", url: `${base}${path}`, signal, timeoutMs: 30_000 }, maxBytes);
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`ComfyUI answered GET ${path} with ${res.status}`);
  return parseJson(res.text);
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** Reads what the report is built from. */
export async function readComfy(baseUrl: string, signal: AbortSignal): Promise<ComfyReadings> {
  const base = baseUrl.replace(/\/+$/, "");
  const [objectInfo, folders, systemStats] = await Promise.all([
    getJson(base, "/object_info", signal, OBJECT_INFO_MAX_BYTES),
    getJson(base, "/models", signal),
    getJson(base, "/system_stats", signal),
  ]);
  if (!objectInfo || typeof objectInfo !== "object" || Array.isArray(objectInfo))
    throw new Error("ComfyUI's /object_info is not an object");
  let models: Record<string, string[]> | null = null;
  if (folders !== null) {
    models = {};
    for (const folder of stringList(folders).filter((f) => !SKIP_FOLDERS.has(f))) {
      const files = await getJson(base, `/models/${encodeURIComponent(folder)}`, signal);
      models[folder] = stringList(files);
    }
  }
  return { objectInfo: objectInfo as Record<string, unknown>, models, systemStats };
}
