import { checkUrl } from "./check.ts";
import { UrlGuardError } from "./guard-error.ts";
import { acceptedImageType, IMAGE_TYPES_TEXT, mimeEssence, sniffImageType } from "./image-type.ts";
import type {
  DataUrlCheck,
  GuardedFetchOptions,
  GuardedResponse,
  HttpUrlCheck,
  ImageMimeType,
  UrlPolicy,
} from "./types.ts";

/** One request of an exchange, to a URL that passed checkUrl. */
export interface HopRequest {
  check: HttpUrlCheck;
  method: string;
  headers: Headers;
  body: string | Uint8Array | undefined;
  signal: AbortSignal;
}

/** What a transport answers for one hop; redirects are NOT followed by the transport. */
export interface HopResponse {
  status: number;
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
}

export type Hop = (request: HopRequest) => Promise<HopResponse>;

export const DEFAULT_MAX_REDIRECTS = 3;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Dropped when a redirect turns the request into a body-less GET (Fetch standard, "request-body-header name"). */
const BODY_HEADERS = ["content-type", "content-length", "content-encoding", "content-language", "content-location"];
/** Dropped when a redirect leaves the origin. */
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];

function discard(body: ReadableStream<Uint8Array> | null): Promise<void> {
  return body === null ? Promise.resolve() : body.cancel().catch(() => undefined);
}

/** Rejects when the signal aborts, whether or not the transport honours it. */
function raceAbort(promise: Promise<HopResponse>, signal: AbortSignal): Promise<HopResponse> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (response) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) void discard(response.body);
        resolve(response);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** Reads a body up to `maxBytes`; past it, cancels the stream (closing the connection) and throws too_large. */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  signal: AbortSignal,
): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  signal.throwIfAborted();
  const reader = body.getReader();
  const onAbort = () => void reader.cancel(signal.reason).catch(() => undefined);
  signal.addEventListener("abort", onAbort, { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new UrlGuardError("too_large", `response body exceeds the ${maxBytes}-byte limit`);
      }
      chunks.push(value);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  // A cancel on abort ends the read loop as if the body were complete: never return a truncated body.
  signal.throwIfAborted();
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function dataResponse(check: DataUrlCheck, input: string, maxBytes: number): GuardedResponse {
  if (check.bytes.byteLength > maxBytes) {
    throw new UrlGuardError("too_large", `data: URL decodes to more than the ${maxBytes}-byte limit`);
  }
  return {
    status: 200,
    headers: new Headers({ "content-type": check.mimeType, "content-length": String(check.bytes.byteLength) }),
    body: check.bytes,
    contentType: check.mimeType,
    sniffedType: check.mimeType,
    finalUrl: input,
    redirects: 0,
  };
}

async function finish(
  response: HopResponse,
  check: HttpUrlCheck,
  options: GuardedFetchOptions,
  signal: AbortSignal,
  redirects: number,
): Promise<GuardedResponse> {
  const contentType = response.headers.get("content-type");
  const image = options.expect === "image";
  if (image && (response.status < 200 || response.status > 299)) {
    await discard(response.body);
    throw new UrlGuardError("fetch_failed", `image URL answered HTTP ${response.status}`, { status: response.status });
  }
  if (image && (contentType === null || acceptedImageType(contentType) === null)) {
    await discard(response.body);
    const declared = contentType === null ? "none" : mimeEssence(contentType) || "none";
    throw new UrlGuardError("bad_content_type", `declared content type ${declared} is not ${IMAGE_TYPES_TEXT}`);
  }
  const declaredLength = response.headers.get("content-length");
  if (declaredLength !== null && /^\s*\d+\s*$/.test(declaredLength) && Number(declaredLength) > options.maxBytes) {
    await discard(response.body);
    throw new UrlGuardError(
      "too_large",
      `Content-Length ${Number(declaredLength)} exceeds the ${options.maxBytes}-byte limit`,
    );
  }
  const body = await readCapped(response.body, options.maxBytes, signal);
  let sniffedType: ImageMimeType | null = null;
  if (image) {
    sniffedType = sniffImageType(body);
    if (sniffedType === null) {
      throw new UrlGuardError("bad_content_type", "response body is not a png, jpeg, webp or gif image (magic bytes)");
    }
  }
  return {
    status: response.status,
    headers: response.headers,
    body,
    contentType,
    sniffedType,
    finalUrl: check.url.href,
    redirects,
  };
}

function rewritesToGet(status: number, method: string): boolean {
  return (
    ((status === 301 || status === 302) && method === "POST") ||
    (status === 303 && method !== "GET" && method !== "HEAD")
  );
}

async function exchange(
  input: string,
  policy: UrlPolicy,
  options: GuardedFetchOptions,
  hop: Hop,
  signal: AbortSignal,
): Promise<GuardedResponse> {
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const headers = new Headers(options.headers);
  headers.delete("host");
  let method = (options.method ?? "GET").toUpperCase();
  let body = options.body;
  let current = input;
  let redirects = 0;
  for (;;) {
    signal.throwIfAborted();
    const check = checkUrl(current, policy);
    if (!check.ok) {
      throw new UrlGuardError(check.code, redirects === 0 ? check.reason : `redirect refused: ${check.reason}`);
    }
    if (check.kind === "data") return dataResponse(check, input, options.maxBytes);
    const response = await raceAbort(hop({ check, method, headers, body, signal }), signal);
    const location = response.headers.get("location");
    if (!REDIRECT_STATUSES.has(response.status) || location === null) {
      return finish(response, check, options, signal, redirects);
    }
    await discard(response.body);
    if (redirects >= maxRedirects) {
      throw new UrlGuardError("too_many_redirects", `more than ${maxRedirects} redirects`);
    }
    let next: URL;
    try {
      next = new URL(location, check.url);
    } catch {
      throw new UrlGuardError("fetch_failed", "redirect Location is not a valid URL");
    }
    if (next.protocol === "data:") throw new UrlGuardError("unsafe_url", "redirect to a data: URL is not allowed");
    if (rewritesToGet(response.status, method)) {
      method = "GET";
      body = undefined;
      for (const name of BODY_HEADERS) headers.delete(name);
    }
    if (next.origin !== check.url.origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name);
    current = next.href;
    redirects += 1;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  const code = cause !== null && typeof cause === "object" && "code" in cause ? String(cause.code) : null;
  return code === null ? error.message : `${error.message} (${code})`;
}

/**
 * Runs one guarded exchange: checkUrl on the input and on every redirect hop (at most maxRedirects,
 * followed manually), the byte cap, the timeout (one AbortSignal over the whole exchange) and, with
 * expect "image", the declared type and magic bytes. `hop` does one request without following
 * redirects: fetch at the edge, a DNS-pinned node:http request on the runner.
 */
export async function runGuardedExchange(
  input: string,
  policy: UrlPolicy,
  options: GuardedFetchOptions,
  hop: Hop,
): Promise<GuardedResponse> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
  try {
    return await exchange(input, policy, options, hop, signal);
  } catch (error) {
    if (error instanceof UrlGuardError) throw error;
    if (options.signal?.aborted) {
      throw new UrlGuardError("fetch_failed", "the request was aborted", { cause: options.signal.reason });
    }
    if (timeout.aborted) {
      throw new UrlGuardError("timeout", `no complete answer within ${options.timeoutMs} ms`, { cause: error });
    }
    throw new UrlGuardError("fetch_failed", `fetch failed: ${describe(error)}`, { cause: error });
  }
}
