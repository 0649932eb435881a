/**
 * The runner's HTTP client on node:http(s) with keep-alive agents: small exchanges answered whole (sendText /
 * sendBytes) and streamed bodies (send, for outputs from /view into a PUT). node:http rather than undici:
 * loading undici (the npm package, or the fetch built into Node) adds 17-29 MB to the runner's resident
 * memory, node:http about 2 MB.
 *
 * A request is sent again only when it is idempotent (GET, HEAD, PUT, DELETE, OPTIONS) and its body can be
 * replayed, after a kept-alive connection failed before any answer (the server had just closed it). A POST is
 * never sent twice: POST /prompt could queue a prompt twice, POST /runner/v1/lease take two leases.
 */
import type { ClientRequest, IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { HttpError } from "./http-error.ts";

export { HttpError, type HttpErrorKind } from "./http-error.ts";

// node:http(s) through getBuiltinModule: an ESM import of node:http also loads undici (building the ESM
// facade reads its lazy fetch/WebSocket exports), megabytes the runner does not use.
const http = process.getBuiltinModule("node:http");
const https = process.getBuiltinModule("node:https");

// Idle sockets are closed after 4 s, before the servers the runner talks to close theirs (aiohttp: 75 s,
// Node: 5 s); no socket timeout (each exchange has its own timer).
const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32, timeout: 4_000 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32, timeout: 4_000 }),
};

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);
/** Errors that mean the connection broke before the request was answered. */
const CONNECTION_LOST = new Set(["ECONNRESET", "EPIPE"]);

export interface HttpRequest {
  method: string;
  url: string | URL;
  headers?: Record<string, string>;
  /** A FormData is sent as multipart/form-data (serialised by the platform's Response). */
  body?: string | Uint8Array | Readable | FormData;
  signal?: AbortSignal;
  /** Until the response headers arrive (send) or until the body is read (sendText, sendBytes). */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: IncomingMessage;
}

export interface TextResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface BytesResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

function isStream(body: HttpRequest["body"]): body is Readable {
  return typeof body === "object" && body !== null && typeof (body as Readable).pipe === "function";
}

function abortReason(signal: AbortSignal): HttpError {
  const reason = signal.reason;
  return reason instanceof HttpError ? reason : new HttpError("aborted", "request aborted", { cause: reason });
}

function errorCode(err: unknown): string | undefined {
  if (err === null || typeof err !== "object") return undefined;
  const code = "code" in err && typeof err.code === "string" ? err.code : undefined;
  const cause = "cause" in err ? errorCode(err.cause) : undefined;
  // A wrapped socket error: the system code (ECONNRESET, ...) is the more useful one.
  return cause?.startsWith("E") ? cause : (code ?? cause);
}

/** Any failure of an exchange as an HttpError: the caller's abort, our timeout, or the network. */
function toHttpError(err: unknown, signal: AbortSignal | undefined, guard: Guard): HttpError {
  if (signal?.aborted) return abortReason(signal);
  if (guard.fired) return new HttpError("timeout", `no answer within ${guard.ms} ms`);
  if (err instanceof HttpError) return err;
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return new HttpError("network", code && !message.includes(code) ? `${code}: ${message}` : message, {
    code,
    cause: err,
  });
}

/**
 * Ends an exchange at its deadline or on the caller's abort, until clear(): destroys the request in flight (and
 * so its response body). One timer and one listener per exchange.
 */
class Guard {
  readonly ms: number | undefined;
  fired = false;
  private target: ClientRequest | null = null;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = () => this.target?.destroy(abortReason(this.signal as AbortSignal));
  constructor(ms: number | undefined, signal: AbortSignal | undefined) {
    this.ms = ms;
    this.signal = signal;
    signal?.addEventListener("abort", this.onAbort, { once: true });
    if (ms === undefined) return;
    this.timer = setTimeout(() => {
      this.fired = true;
      this.target?.destroy(new HttpError("timeout", `no answer within ${ms} ms`));
    }, ms);
  }
  watch(request: ClientRequest): void {
    this.target = request;
  }
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.signal?.removeEventListener("abort", this.onAbort);
  }
}

function flatHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name in raw) {
    const value = raw[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

type PreparedBody = string | Uint8Array | Readable | undefined;

/** Sets content-length for a body in memory. */
function withLength(body: PreparedBody, headers: Record<string, string>): PreparedBody {
  if (body !== undefined && !isStream(body) && headers["content-length"] === undefined) {
    headers["content-length"] = String(typeof body === "string" ? Buffer.byteLength(body) : body.byteLength);
  }
  return body;
}

/** A FormData as multipart/form-data bytes (serialised by Response), setting the content type. */
async function encodeForm(form: FormData, headers: Record<string, string>): Promise<Uint8Array> {
  const encoded = new Response(form);
  headers["content-type"] = encoded.headers.get("content-type") ?? "multipart/form-data";
  return new Uint8Array(await encoded.arrayBuffer());
}

/**
 * Whether the body is a FormData, told without reading the global `FormData`: that global is one of Node's lazy
 * undici exports, and reading it (as `instanceof FormData` would on every request) loads all of undici, about
 * 6 MB of an idle runner's memory. Only a job with input files to upload to ComfyUI loads it now.
 */
function isForm(body: HttpRequest["body"]): body is FormData {
  return body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array) && !isStream(body);
}

/** One exchange, resolved when the response headers arrive; `guard` stays armed (the caller clears it). */
async function exchange(req: HttpRequest, guard: Guard): Promise<{ res: HttpResponse; reused: boolean }> {
  if (req.signal?.aborted) throw abortReason(req.signal);
  const headers: Record<string, string> = { ...req.headers };
  const body = withLength(isForm(req.body) ? await encodeForm(req.body, headers) : req.body, headers);
  if (req.signal?.aborted) throw abortReason(req.signal);
  if (guard.fired) throw new HttpError("timeout", `no answer within ${guard.ms} ms`);
  const url = typeof req.url === "string" ? new URL(req.url) : req.url;
  const secure = url.protocol === "https:";
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(url, {
      method: req.method,
      headers,
      agent: agents[secure ? "https:" : "http:"],
    });
    guard.watch(request);
    request.once("response", (res) => {
      const out = { status: res.statusCode ?? 0, headers: flatHeaders(res.headers), body: res };
      resolve({ res: out, reused: request.reusedSocket });
    });
    request.once("error", (err) => {
      const error = toHttpError(err, req.signal, guard);
      reject(Object.assign(error, { reused: request.reusedSocket }));
    });
    if (isStream(body)) {
      body.once("error", (err) => request.destroy(err));
      body.pipe(request);
    } else request.end(body);
  });
}

function replayable(req: HttpRequest): boolean {
  return IDEMPOTENT.has(req.method) && !isStream(req.body);
}

function onReusedSocket(err: unknown): boolean {
  return typeof err === "object" && err !== null && "reused" in err && err.reused === true;
}

/** exchange(), sent once more on a new connection if it is idempotent and the connection broke first. */
async function exchangeWithRetry(req: HttpRequest, guard: Guard): Promise<HttpResponse> {
  try {
    return (await exchange(req, guard)).res;
  } catch (err) {
    const lost = err instanceof HttpError && err.kind === "network" && CONNECTION_LOST.has(err.code ?? "");
    if (lost && onReusedSocket(err) && replayable(req)) return (await exchange(req, guard)).res;
    throw err;
  }
}

/** Sends one request and resolves when the response headers arrive (the caller reads or destroys the body). */
export async function send(req: HttpRequest): Promise<HttpResponse> {
  const guard = new Guard(req.timeoutMs, req.signal);
  try {
    return await exchangeWithRetry(req, guard);
  } finally {
    guard.clear();
  }
}

/** An exchange answered whole: at most `maxBytes` of body (else kind "too_large"), all within `timeoutMs`. */
export async function sendBytes(req: HttpRequest, maxBytes = 8 * 1024 * 1024): Promise<BytesResponse> {
  const guard = new Guard(req.timeoutMs, req.signal);
  try {
    const res = await exchangeWithRetry(req, guard);
    let body: Buffer;
    try {
      body = await readBody(res, maxBytes);
    } catch (err) {
      throw toHttpError(err, req.signal, guard);
    }
    return { status: res.status, headers: res.headers, body };
  } finally {
    guard.clear();
  }
}

/** An exchange answered as text. */
export async function sendText(req: HttpRequest, maxBytes = 8 * 1024 * 1024): Promise<TextResponse> {
  const res = await sendBytes(req, maxBytes);
  return { status: res.status, headers: res.headers, text: res.body.toString("utf8") };
}

/** Drops a body nobody will read (its connection is closed). */
function discard(body: Readable): void {
  body.on("error", () => {});
  body.destroy();
}

/** Reads a whole body, failing with kind "too_large" past `maxBytes` (before reading it, when declared). */
export async function readBody(res: HttpResponse, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
  const declared = Number(res.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    discard(res.body);
    throw new HttpError("too_large", `the body is ${declared} bytes, over the limit of ${maxBytes}`);
  }
  if (signal?.aborted) {
    discard(res.body);
    throw abortReason(signal);
  }
  const onAbort = () => res.body.destroy(abortReason(signal!));
  // A connection closed before the whole body arrived ends the stream without an error: checked below.
  signal?.addEventListener("abort", onAbort, { once: true });
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        res.body.destroy();
        throw new HttpError("too_large", `the body is over the limit of ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError("network", `body: ${err instanceof Error ? err.message : String(err)}`, {
      code: errorCode(err),
      cause: err,
    });
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  if (!res.body.complete) throw new HttpError("network", "connection closed before the body was complete");
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** JSON.parse that answers undefined instead of throwing. */
export function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Closes the agents' idle connections (tests; the process exits without it). */
export function closeIdleConnections(): void {
  agents["http:"].destroy();
  agents["https:"].destroy();
}
