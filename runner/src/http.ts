/**
 * A small HTTP client on node:http with keep-alive agents. The runner makes a handful of requests per job to
 * the gateway, R2 and ComfyUI; node:http costs a fraction of fetch's CPU per request, and it lets uploads
 * stream a response body straight into a PUT with its Content-Length. One timer per exchange, no
 * AbortController per request (they show up in the runner's CPU profile).
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { Readable } from "node:stream";

// node:http(s) through getBuiltinModule: an ESM import of node:http also loads undici (building the ESM
// facade reads its lazy fetch/WebSocket exports), about 2 MB and start-up CPU the runner does not use.
const http = process.getBuiltinModule("node:http");
const https = process.getBuiltinModule("node:https");

// No socket timeout on the agents (it is re-armed on every read and write): each exchange has its own timer.
const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32 }),
};

export type HttpErrorKind = "network" | "timeout" | "aborted" | "too_large";

/** The exchange failed before a complete answer arrived. `code` is the system error code when there is one. */
export class HttpError extends Error {
  readonly kind: HttpErrorKind;
  readonly code: string | undefined;
  /** The request went out on a kept-alive socket (a reset there is usually the server closing it idle). */
  readonly reused: boolean;
  constructor(
    kind: HttpErrorKind,
    message: string,
    options: { code?: string; cause?: unknown; reused?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HttpError";
    this.kind = kind;
    this.code = options.code;
    this.reused = options.reused ?? false;
  }
  /** Nothing listens at the address (not started, or restarting). */
  get refused(): boolean {
    return this.code === "ECONNREFUSED";
  }
}

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
  headers: IncomingHttpHeaders;
  text: string;
}

function isStream(body: HttpRequest["body"]): body is Readable {
  return typeof body === "object" && body !== null && typeof (body as Readable).pipe === "function";
}

function abortReason(signal: AbortSignal): HttpError {
  const reason = signal.reason;
  return reason instanceof HttpError ? reason : new HttpError("aborted", "request aborted", { cause: reason });
}

/**
 * One exchange. With `readMax` the body is read (bounded) before resolving, under the same timer; without
 * it the caller gets the body stream once the headers arrive.
 */
function exchange(req: HttpRequest, readMax: number | null): Promise<HttpResponse | TextResponse> {
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
    let response: IncomingMessage | null = null;
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
      if (response) response.destroy();
      request.destroy();
      reject(error);
    };
    const onAbort = () => fail(abortReason(signal!));
    signal?.addEventListener("abort", onAbort, { once: true });
    if (req.timeoutMs !== undefined) {
      const ms = req.timeoutMs;
      timer = setTimeout(() => fail(new HttpError("timeout", `no ${readMax === null ? "answer" : "complete answer"} within ${ms} ms`)), ms);
    }
    request.on("response", (res) => {
      if (settled) {
        res.resume();
        return;
      }
      response = res;
      const status = res.statusCode ?? 0;
      if (readMax === null) {
        settled = true;
        cleanup();
        resolve({ status, headers: res.headers, body: res });
        return;
      }
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > readMax) {
        fail(new HttpError("too_large", `the body is ${declared} bytes, over the limit of ${readMax}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > readMax) fail(new HttpError("too_large", `the body is over the limit of ${readMax} bytes`));
        else chunks.push(chunk);
      });
      res.on("end", () => {
        if (settled) return;
        settled = true;
        cleanup();
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
        resolve({ status, headers: res.headers, text: body.toString("utf8") });
      });
      res.on("error", (err) => fail(new HttpError("network", `body: ${err.message}`, { cause: err })));
      res.on("aborted", () => fail(new HttpError("network", "connection closed before the body was complete")));
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

/** A request on a kept-alive socket the server had already closed is sent once more (Node's docs' advice). */
function retryable(err: unknown, req: HttpRequest): boolean {
  return (
    err instanceof HttpError &&
    err.kind === "network" &&
    err.reused &&
    (err.code === "ECONNRESET" || err.code === "EPIPE") &&
    !isStream(req.body)
  );
}

/** Sends one request and resolves when the response headers arrive (the caller reads or destroys the body). */
export async function send(req: HttpRequest): Promise<HttpResponse> {
  try {
    return (await exchange(req, null)) as HttpResponse;
  } catch (err) {
    if (retryable(err, req)) return (await exchange(req, null)) as HttpResponse;
    throw err;
  }
}

/** Sends a request and reads the answer as text (bounded), all within `timeoutMs`. */
export async function sendText(req: HttpRequest, maxBytes = 8 * 1024 * 1024): Promise<TextResponse> {
  try {
    return (await exchange(req, maxBytes)) as TextResponse;
  } catch (err) {
    if (retryable(err, req)) return (await exchange(req, maxBytes)) as TextResponse;
    throw err;
  }
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
