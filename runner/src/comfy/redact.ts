/**
 * What a tenant may see of a failure (pure): ComfyUI's messages and details with the GPU host's paths
 * (home directory, virtualenv, ComfyUI's folders), addresses and URLs taken out. Tracebacks never reach
 * the job's error; they go to the runner's log.
 */
import type { JsonObject, JsonValue } from "@comfy-edge/shared/contract/common";
import type { JobError } from "@comfy-edge/shared/contract/jobs";

// A character that may belong to a path segment (not space, quote, bracket or separator).
const SEG = String.raw`[^\s'"\x60,;:()\[\]{}<>|/\\]`;
/** /a/b or /a/b/file.ext (at least two levels: "/tmp" alone is left) and ~/a; not the path of a URL. */
const POSIX_PATH = new RegExp(String.raw`(?<![\w.~:/\\-])(?:~|)/(?:${SEG}+/)+${SEG}*`, "g");
const WINDOWS_PATH = /\b[A-Za-z]:\\(?:[^\s'"\x60\\]+\\)*[^\s'"\x60\\]*/g;
const URL = /\b(?:https?|wss?|file|ftp):\/\/[^\s'"`<>]+/gi;
const IPV4 = /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g;
const IPV6_BRACKETED = /\[[0-9A-Fa-f:.]+\](?::\d{1,5})?/g;

/** "/home/gpu/ComfyUI/input/x.png" -> "x.png" (a file keeps its name), "/srv/comfyui/data" -> "<path>". */
function shortPath(path: string, separator: "/" | "\\"): string {
  const trimmed = path.endsWith(separator) ? path.slice(0, -1) : path;
  const name = trimmed.slice(trimmed.lastIndexOf(separator) + 1);
  return /^[^.]+\.[A-Za-z0-9]{1,12}$/.test(name) ? name : "<path>";
}

/** Removes host paths, URLs and IP addresses from a text meant for a tenant. */
export function redactHostDetails(text: string): string {
  return text
    .replace(URL, "<url>")
    .replace(WINDOWS_PATH, (p) => shortPath(p, "\\"))
    .replace(POSIX_PATH, (p) => shortPath(p, "/"))
    .replace(IPV6_BRACKETED, "<address>")
    .replace(IPV4, "<address>");
}

function redactValue(value: JsonValue, depth = 0): JsonValue {
  if (typeof value === "string") return redactHostDetails(value);
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === "traceback") continue;
    out[key] = redactValue(v, depth + 1);
  }
  return out;
}

/** The job's error as the tenant sees it: the same fields with host details removed, never a traceback. */
export function tenantError(error: JobError): JobError {
  const out: JobError = { ...error, message: redactHostDetails(error.message) };
  if (error.details !== undefined) out.details = redactValue(error.details);
  return out;
}
