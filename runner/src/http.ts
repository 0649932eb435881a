/**
 * A small HTTP client on node:http with keep-alive agents. The runner makes a handful of requests per
 * job to the gateway, R2 and ComfyUI; node:http costs noticeably less CPU per request than fetch, and it
 * lets uploads stream a response body straight into a PUT with its Content-Length.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";

const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32, timeout: 120_000 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32, timeout: 120_000 }),
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
  /** Nothing listens at the address: the process is gone (or not started yet). */
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
  /** Until the response headers arrive (and, for the read helpers, until the body is read). */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

function isStream(body: HttpRequest["body"]): body is Readable {
  return typeof body === "object" && body !== null && typeof (body as Readable).pipe === "function";
}

function abortReason(signal: AbortSignal): HttpError {
  const reason = signal.reason;
  return reason instanceof HttpError ? reason : new HttpError("aborted", "request aborted", { cause: reason });
}

function once(req: HttpRequest): Promise<HttpResponse & { reused: boolean }> {
  return new Promise((resolve, reject) => {
    if (req.signal?.aborted) {
      reject(abortReason(req.signal));
      return;
    }
    const url = typeof req.url === "string" ? new URL(req.url) : req.url;
    const lib = url.protocol === "https:" ? https : http;
    const agent = url.protocol === "https:" ? agents["https:"] : agents["http:"];
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined && !isStream(req.body) && headers["content-length"] === undefined) {
      headers["content-length"] = String(
        typeof req.body === "string" ? Buffer.byteLength(req.body) : req.body.byteLength,
      );
    }
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
    };
    const fail = (error: HttpError) => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(error);
    };
    const request = lib.request(url, { method: req.method, headers, agent }, (res) => {
      if (settled) {
        res.resume();
        return;
      }
      settled = true;
      cleanup();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, reused: request.reusedSocket });
    });
    const onAbort = () => {
      const error = abortReason(req.signal!);
      request.destroy(error);
      fail(error);
    };
    req.signal?.addEventListener("abort", onAbort, { once: true });
    if (req.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        const error = new HttpError("timeout", `no answer within ${req.timeoutMs} ms`);
        request.destroy(error);
        fail(error);
      }, req.timeoutMs);
    }
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
      req.body.on("error", (err) => {
        request.destroy(err);
        fail(new HttpError("network", `request body failed: ${err.message}`, { cause: err }));
      });
      req.body.pipe(request);
    } else {
      request.end(req.body);
    }
  });
}

/**
 * Sends one request and resolves when the response headers arrive. A request on a kept-alive socket that the
 * server had already closed (ECONNRESET on a reused socket) is sent once more, as Node's docs advise.
 */
export async function send(req: HttpRequest): Promise<HttpResponse> {
  try {
    return await once(req);
  } catch (err) {
    if (
      err instanceof HttpError &&
      err.kind === "network" &&
      (err.code === "ECONNRESET" || err.code === "EPIPE") &&
      err.reused &&
      !isStream(req.body)
    ) {
      return once(req);
    }
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

export interface TextResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** Sends a request and reads the answer as text (bounded), within one overall timeout. */
export async function sendText(req: HttpRequest, maxBytes = 8 * 1024 * 1024): Promise<TextResponse> {
  const signals: AbortSignal[] = [];
  if (req.signal) signals.push(req.signal);
  let timeout: AbortController | null = null;
  let timer: NodeJS.Timeout | undefined;
  if (req.timeoutMs !== undefined) {
    timeout = new AbortController();
    const ms = req.timeoutMs;
    timer = setTimeout(() => timeout!.abort(new HttpError("timeout", `no complete answer within ${ms} ms`)), ms);
    signals.push(timeout.signal);
  }
  const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
  try {
    const res = await send({ ...req, signal, timeoutMs: undefined });
    const body = await readBody(res.body, maxBytes, signal);
    return { status: res.status, headers: res.headers, text: body.toString("utf8") };
  } finally {
    if (timer) clearTimeout(timer);
  }
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

/** Closes idle keep-alive sockets (at shutdown, so the process can exit). */
export function closeIdleSockets(): void {
  agents["http:"].destroy();
  agents["https:"].destroy();
}
