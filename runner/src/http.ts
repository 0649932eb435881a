/**
 * The runner's HTTP: small exchanges (JSON, images up to a few MB) go through the lean HTTP/1.1 client
 * (http1.ts); bodies that must be streamed (large outputs from /view into a PUT) use node:http with
 * keep-alive agents. One timer per exchange, no AbortController per request.
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { HttpError } from "./http-error.ts";
import { request as http1 } from "./http1.ts";

export { HttpError, type HttpErrorKind } from "./http-error.ts";

// node:http(s) through getBuiltinModule: an ESM import of node:http also loads undici (building the ESM
// facade reads its lazy fetch/WebSocket exports), about 2 MB and start-up CPU the runner does not use.
const http = process.getBuiltinModule("node:http");
const https = process.getBuiltinModule("node:https");

// No socket timeout on the agents (it is re-armed on every read and write): each exchange has its own timer.
const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32 }),
};

export interface HttpRequest {
  method: string;
  url: string | URL;
  headers?: Record<string, string>;
  body?: string | Uint8Array | Readable;
  signal?: AbortSignal;
  /** Until the response headers arrive (send) or until the body is read (sendText). */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

export interface TextResponse {
  status: number;
  /** Lower-case names. */
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

/** One exchange over node:http, resolved when the response headers arrive (the caller reads the body). */
function exchange(req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const signal = req.signal;
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const url = typeof req.url === "string" ? new URL(req.url) : req.url;
    const secure = url.protocol === "https:";
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined && !isStream(req.body) && headers["content-length"] === undefined) {
      headers["content-length"] = String(
        typeof req.body === "string" ? Buffer.byteLength(req.body) : req.body.byteLength,
      );
    }
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const request = (secure ? https : http).request(url, {
      method: req.method,
      headers,
      agent: secure ? agents["https:"] : agents["http:"],
    });
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const fail = (error: HttpError) => {
      if (settled) return;
      settled = true;
      cleanup();
      request.destroy();
      reject(error);
    };
    const onAbort = () => fail(abortReason(signal!));
    signal?.addEventListener("abort", onAbort, { once: true });
    if (req.timeoutMs !== undefined) {
      const ms = req.timeoutMs;
      timer = setTimeout(() => fail(new HttpError("timeout", `no answer within ${ms} ms`)), ms);
    }
    request.on("response", (res) => {
      if (settled) {
        res.resume();
        return;
      }
      settled = true;
      cleanup();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
    });
    request.on("error", (err: NodeJS.ErrnoException) => {
      if (err instanceof HttpError) return fail(err);
      fail(
        new HttpError("network", `${err.code ?? err.message}`, {
          code: err.code,
          cause: err,
          reused: request.reusedSocket,
        }),
      );
    });
    if (isStream(req.body)) {
      req.body.on("error", (err) =>
        fail(new HttpError("network", `request body failed: ${err.message}`, { cause: err })),
      );
      req.body.pipe(request);
    } else {
      request.end(req.body);
    }
  });
}

/**
 * Sends one request over node:http and resolves when the response headers arrive (the caller reads or
 * destroys the body): for streamed bodies. A request on a kept-alive socket the server had already closed
 * is sent once more (Node's docs' advice).
 */
export async function send(req: HttpRequest): Promise<HttpResponse> {
  try {
    return await exchange(req);
  } catch (err) {
    if (
      err instanceof HttpError &&
      err.kind === "network" &&
      err.reused &&
      (err.code === "ECONNRESET" || err.code === "EPIPE") &&
      !isStream(req.body)
    ) {
      return await exchange(req);
    }
    throw err;
  }
}

/** A small exchange answered whole (lean client): at most `maxBytes` of body, all within `timeoutMs`. */
export async function sendBytes(req: HttpRequest, maxBytes = 8 * 1024 * 1024): Promise<BytesResponse> {
  if (isStream(req.body)) throw new HttpError("protocol", "sendBytes needs a buffered body");
  const res = await http1({
    method: req.method,
    url: req.url,
    headers: req.headers,
    body: req.body,
    signal: req.signal,
    timeoutMs: req.timeoutMs,
    maxBytes,
  });
  return { status: res.status, headers: res.headers, body: res.body };
}

/** A small exchange answered as text (lean client). */
export async function sendText(req: HttpRequest, maxBytes = 8 * 1024 * 1024): Promise<TextResponse> {
  const res = await sendBytes(req, maxBytes);
  return { status: res.status, headers: res.headers, text: res.body.toString("utf8") };
}

/** Reads a whole body, failing with kind "too_large" past `maxBytes`. */
export function readBody(res: IncomingMessage, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(res.headers["content-length"]);
    if (Number.isFinite(declared) && declared > maxBytes) {
      res.destroy();
      reject(new HttpError("too_large", `the body is ${declared} bytes, over the limit of ${maxBytes}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error: HttpError | null) => {
      if (done) return;
      done = true;
      signal?.removeEventListener("abort", onAbort);
      if (error) {
        res.destroy();
        reject(error);
      } else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onAbort = () => finish(abortReason(signal!));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    res.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) finish(new HttpError("too_large", `the body is over the limit of ${maxBytes} bytes`));
      else chunks.push(chunk);
    });
    res.on("end", () => finish(null));
    res.on("error", (err) =>
      finish(err instanceof HttpError ? err : new HttpError("network", `body: ${err.message}`, { cause: err })),
    );
    res.on("aborted", () => finish(new HttpError("network", "connection closed before the body was complete")));
  });
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
