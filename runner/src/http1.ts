/**
 * A lean HTTP/1.1 client for the runner's small exchanges (JSON with the gateway and ComfyUI, images up to
 * a few MB): keep-alive connections on net/tls sockets, the request written in one go, the answer read whole
 * (Content-Length, chunked, or until close). Per request it costs well under half of node:http's CPU (no
 * ClientRequest/IncomingMessage streams, agent bookkeeping or per-socket timers), which is most of the
 * runner's CPU budget per job. Large bodies that must be streamed use node:http (http.ts `send`).
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { HttpError } from "./http-error.ts";
import { type Http1Response, ResponseParser } from "./http1-parser.ts";

const net = process.getBuiltinModule("node:net");
const tls = process.getBuiltinModule("node:tls");

export interface Http1Request {
  method: string;
  url: string | URL;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  /** For the whole exchange (connect, send, read the answer). */
  timeoutMs?: number;
  /** Largest body read (default 8 MiB); bigger fails with kind "too_large" (before reading it, when declared). */
  maxBytes?: number;
}

export type { Http1Response };

/** Extra TLS options for every connection (tests trust their own CA here; operators use NODE_EXTRA_CA_CERTS). */
export const tlsOptions: { ca?: string | Buffer } = {};

const IDLE_MS = 10_000;
const MAX_IDLE_PER_ORIGIN = 16;

type Waiter = {
  resolve: (res: Http1Response) => void;
  reject: (err: HttpError) => void;
  method: string;
  maxBytes: number;
};

/** One kept-alive connection; one exchange at a time. */
class Connection {
  readonly socket: Socket | TLSSocket;
  readonly origin: string;
  dead = false;
  used = false;
  private waiter: Waiter | null = null;
  private parser: ResponseParser | null = null;
  /** Bytes of the current answer arrived. */
  private answered = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly onIdleTimeout: () => void;

  constructor(url: URL, onIdleTimeout: () => void) {
    this.origin = url.origin;
    this.onIdleTimeout = onIdleTimeout;
    const secure = url.protocol === "https:";
    const port = url.port ? Number(url.port) : secure ? 443 : 80;
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    this.socket = secure
      ? tls.connect({
          host,
          port,
          servername: net.isIP(host) ? undefined : host,
          ALPNProtocols: ["http/1.1"],
          ...tlsOptions,
        })
      : net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("error", (err: NodeJS.ErrnoException) => this.onClose(err));
    this.socket.on("close", () => this.onClose(null));
  }

  exchange(head: string, body: Buffer | null, waiter: Waiter): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.waiter = waiter;
    this.answered = false;
    this.parser = new ResponseParser(waiter.method, waiter.maxBytes);
    if (body && body.length > 0) {
      this.socket.cork();
      this.socket.write(head, "latin1");
      this.socket.write(body);
      this.socket.uncork();
    } else this.socket.write(head, "latin1");
  }

  /** Back to the pool. */
  idle(): void {
    this.used = true;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      this.destroy();
      this.onIdleTimeout();
    }, IDLE_MS);
    this.idleTimer.unref();
  }

  private onData(chunk: Buffer): void {
    const waiter = this.waiter;
    const parser = this.parser;
    if (!waiter || !parser) {
      // Bytes nobody asked for: the connection is out of step.
      this.destroy();
      return;
    }
    this.answered = true;
    let res: Http1Response | null;
    try {
      res = parser.push(chunk);
    } catch (err) {
      this.fail(err instanceof HttpError ? err : new HttpError("protocol", String(err)));
      return;
    }
    if (res) this.complete(res, parser.keepAlive);
  }

  private complete(res: Http1Response, keepAlive: boolean): void {
    const waiter = this.waiter!;
    this.waiter = null;
    this.parser = null;
    if (!keepAlive) this.destroy();
    waiter.resolve(res);
  }

  private onClose(err: NodeJS.ErrnoException | null): void {
    const wasDead = this.dead;
    this.dead = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (!this.waiter) {
      if (!wasDead) this.onIdleTimeout();
      return;
    }
    const finished = this.parser?.end() ?? null;
    if (finished) {
      this.complete(finished, false);
      return;
    }
    this.fail(
      new HttpError("network", err ? (err.code ?? err.message) : "connection closed before the answer", {
        code: err?.code ?? "ECONNRESET",
        cause: err ?? undefined,
      }),
    );
  }

  fail(err: HttpError): void {
    const waiter = this.waiter;
    this.waiter = null;
    this.parser = null;
    this.destroy();
    waiter?.reject(err.withConnection(this.used, this.answered));
  }

  destroy(): void {
    this.dead = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.socket.destroy();
  }
}

const pool = new Map<string, Connection[]>();

function takeConnection(url: URL): Connection {
  const list = pool.get(url.origin);
  while (list && list.length > 0) {
    const conn = list.pop()!;
    if (!conn.dead) return conn;
  }
  const conn: Connection = new Connection(url, () => {
    const l = pool.get(conn.origin);
    if (!l) return;
    const i = l.indexOf(conn);
    if (i >= 0) l.splice(i, 1);
  });
  return conn;
}

function release(conn: Connection): void {
  if (conn.dead) return;
  let list = pool.get(conn.origin);
  if (!list) {
    list = [];
    pool.set(conn.origin, list);
  }
  if (list.length >= MAX_IDLE_PER_ORIGIN) {
    conn.destroy();
    return;
  }
  conn.idle();
  list.push(conn);
}

function buildHead(
  method: string,
  url: URL,
  headers: Record<string, string> | undefined,
  length: number | null,
): string {
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  if (headers) {
    for (const name in headers) {
      const value = headers[name]!;
      if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new HttpError("protocol", `bad header ${name}`);
      head += `${name}: ${value}\r\n`;
    }
  }
  if (length !== null) head += `content-length: ${length}\r\n`;
  return `${head}\r\n`;
}

function once(req: Http1Request, url: URL): Promise<Http1Response> {
  return new Promise((resolve, reject) => {
    const signal = req.signal;
    if (signal?.aborted) {
      reject(new HttpError("aborted", "request aborted", { cause: signal.reason }));
      return;
    }
    const body =
      req.body === undefined
        ? null
        : typeof req.body === "string"
          ? Buffer.from(req.body)
          : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
    const hasBody = body !== null || !["GET", "HEAD", "DELETE", "OPTIONS"].includes(req.method);
    let head: string;
    try {
      head = buildHead(req.method, url, req.headers, hasBody ? (body?.length ?? 0) : null);
    } catch (err) {
      reject(err);
      return;
    }
    const conn = takeConnection(url);
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const done = () => {
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      if (settled) return;
      conn.fail(new HttpError("aborted", "request aborted", { cause: signal!.reason }));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    if (req.timeoutMs !== undefined) {
      const ms = req.timeoutMs;
      timer = setTimeout(() => {
        if (!settled) conn.fail(new HttpError("timeout", `no complete answer within ${ms} ms`));
      }, ms);
    }
    conn.exchange(head, body, {
      method: req.method,
      maxBytes: req.maxBytes ?? 8 * 1024 * 1024,
      resolve: (res) => {
        done();
        release(conn);
        resolve(res);
      },
      reject: (err) => {
        done();
        reject(err);
      },
    });
  });
}

/**
 * One exchange, answered whole. A request on a kept-alive connection that the server had closed meanwhile
 * (reset or closed before any answer) is sent once more on a new connection, as HTTP clients do.
 */
export async function request(req: Http1Request): Promise<Http1Response> {
  const url = typeof req.url === "string" ? new URL(req.url) : req.url;
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new HttpError("protocol", `unsupported protocol ${url.protocol}`);
  }
  try {
    return await once(req, url);
  } catch (err) {
    if (err instanceof HttpError && err.kind === "network" && err.reused && !err.answered && !req.signal?.aborted) {
      return await once(req, url);
    }
    throw err;
  }
}

/** Closes every idle connection (tests; the process exits without it). */
export function closeIdleConnections(): void {
  for (const list of pool.values()) for (const conn of list.splice(0)) conn.destroy();
}
