/**
 * What the gateway may repeat of an upstream's error: its message, shortened, with anything that looks
 * like a credential removed (the upstream's own key, bearer tokens, `api_key=...`, `sk-...`).
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

/** The upstream's error message from its body (JSON `error.message`, `detail`, ... or plain text). */
export function upstreamMessage(body: string, secrets: readonly string[] = []): string {
  let message: string | null = null;
  try {
    message = pick(JSON.parse(body));
  } catch {
    message = body;
  }
  const text = (message ?? body).replace(/\s+/g, " ").trim();
  const short = text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
  return short === "" ? "(no message)" : scrubSecrets(short, secrets);
}
