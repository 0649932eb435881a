/**
 * What the gateway may repeat of an upstream's error: its message, with anything that looks like a
 * credential removed (the upstream's own key, bearer tokens, `api_key=...`, `sk-...`), and nothing of the
 * upstream's insides: URLs (`http://10.1.2.3:8000/v1`), host:port addresses, file-system paths and
 * tracebacks (Python and JavaScript stack frames) are replaced by placeholders. Scrubbed whole, then
 * shortened, so a cut never leaves half of something behind.
 */
const MAX_MESSAGE = 500;

export function scrubSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("[redacted]");
  return out
    .replace(/(bearer|basic)(\s+)[^\s"'`,;]+/gi, "$1$2[redacted]")
    .replace(
      /\b(authorization|proxy-authorization|api[-_]?key|x-api-key|access[-_]?token|token|secret|password)(["']?\s*[:=]\s*["']?)[^\s"'`,;}]+/gi,
      "$1$2[redacted]",
    )
    .replace(/\b(?:sk|ce_sk|ce_rt|pk|rk|key|hf|gsk|xai)[-_][A-Za-z0-9_-]{12,}/g, "[redacted]");
}

/** Lines that belong to a stack trace: Python's header, frames and their source lines; JavaScript frames. */
const TRACE_LINE = [
  /^\s*Traceback \(most recent call last\):\s*$/,
  /^\s*File "[^"]*", line \d+/,
  /^\s*(During handling of the above exception|The above exception was the direct cause)/,
  /^\s+at \S.*(:\d+:\d+\)?|\(native\)|<anonymous>\)?)\s*$/,
];

/**
 * Removes stack traces, keeping the lines that say what went wrong (Python's final `ValueError: ...`).
 * A Python frame's source line (indented under its `File` line) goes with it.
 */
export function dropTracebacks(text: string): string {
  if (!/Traceback \(most recent call last\)|^\s+at \S.*:\d+:\d+\)?\s*$|File "[^"]*", line \d+/m.test(text)) return text;
  const kept: string[] = [];
  let inFrame = false;
  for (const line of text.split(/\r?\n/)) {
    if (TRACE_LINE.some((re) => re.test(line))) {
      inFrame = /^\s*File "/.test(line);
      continue;
    }
    if (inFrame && /^\s{2,}\S/.test(line)) continue; // the frame's source line
    inFrame = false;
    kept.push(line);
  }
  // Traces flattened onto one line: drop the markers and frames that are left.
  return kept
    .join("\n")
    .replace(/Traceback \(most recent call last\):?/g, "")
    .replace(/File "[^"]*", line \d+(, in [^\s,]+)?/g, "");
}

const SEP = String.raw`(^|[\s"'\x60(\[{<=,;])`;
const URL_RE = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'\x60<>)\]}]+/gi;
const IPV6_RE = /\[[0-9a-f:.]*:[0-9a-f:.]*\](?::\d{1,5})?/gi;
const IPV4_RE = /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g;
/** `localhost:8000`, `vllm-0.vllm.svc:8000`: a dotted name (or localhost) with a letter in it, then a port. */
const HOST_PORT_RE = /\b(?:localhost|(?=[a-z0-9.-]*[a-z])[a-z0-9-]+(?:\.[a-z0-9-]+)+):\d{2,5}\b/gi;
/** Absolute (or `~`, `./`, `../`) POSIX paths of two segments or more. */
const POSIX_PATH_RE = new RegExp(`${SEP}((?:~|\\.{1,2})?(?:/[\\w.@+~-]+){2,}/?)`, "g");
const WINDOWS_PATH_RE = new RegExp(`${SEP}([A-Za-z]:\\\\[^\\s"'\\x60<>|]*)`, "g");

/** Replaces URLs, addresses and file paths with placeholders. */
export function scrubInternals(text: string): string {
  return text
    .replace(URL_RE, "[url]")
    .replace(IPV6_RE, "[address]")
    .replace(IPV4_RE, "[address]")
    .replace(HOST_PORT_RE, "[address]")
    .replace(POSIX_PATH_RE, "$1[path]")
    .replace(WINDOWS_PATH_RE, "$1[path]");
}

function pick(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.error === "object" && v.error !== null) return pick(v.error);
  for (const field of ["message", "error", "detail", "msg"]) {
    const f = v[field];
    if (typeof f === "string") return f;
    if (Array.isArray(f)) return JSON.stringify(f);
  }
  return null;
}

/** The upstream's error message from its body (JSON `error.message`, `detail`, ... or plain text), scrubbed. */
export function upstreamMessage(body: string, secrets: readonly string[] = []): string {
  let message: string | null = null;
  try {
    message = pick(JSON.parse(body));
  } catch {
    message = body;
  }
  const scrubbed = scrubInternals(scrubSecrets(dropTracebacks(message ?? body), secrets));
  const text = scrubbed.replace(/\s+/g, " ").trim();
  const short = text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
  return short === "" ? "(no message)" : short;
}

/** A field name the upstream blamed (OpenAI's and vLLM's `error.param`), when it looks like one. */
export function upstreamParam(body: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const record = parsed as Record<string, unknown>;
  const error = typeof record.error === "object" && record.error !== null ? record.error : record;
  const param = (error as Record<string, unknown>).param;
  return typeof param === "string" && /^[A-Za-z_][\w.[\]]{0,127}$/.test(param) ? param : null;
}
