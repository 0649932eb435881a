/** Reads one HTTP/1.1 answer out of a connection's byte stream (Content-Length, chunked, or until close). */
import { HttpError } from "./http-error.ts";

export interface Http1Response {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

const CRLF2 = Buffer.from("\r\n\r\n");
const MAX_HEAD_BYTES = 64 * 1024;

/** Parses one answer out of a connection's byte stream. */
export class ResponseParser {
  private chunks: Buffer[] = [];
  private size = 0;
  private head: { status: number; headers: Record<string, string> } | null = null;
  private bodyMode: "length" | "chunked" | "close" | "none" = "none";
  private remaining = 0;
  private body: Buffer[] = [];
  private bodySize = 0;
  private chunkState: "size" | "data" | "data-crlf" | "trailers" = "size";
  private readonly method: string;
  private readonly maxBytes: number;
  /** The connection can carry another request after this answer. */
  keepAlive = true;

  constructor(method: string, maxBytes: number) {
    this.method = method;
    this.maxBytes = maxBytes;
  }

  private buffer(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private consume(n: number): void {
    const buf = this.buffer().subarray(n);
    this.chunks = buf.length > 0 ? [buf] : [];
    this.size = buf.length;
  }

  /** Feeds bytes; answers the response when complete (extra bytes are a protocol error). */
  push(chunk: Buffer): Http1Response | null {
    this.chunks.push(chunk);
    this.size += chunk.length;
    for (;;) {
      if (this.head === null) {
        const buf = this.buffer();
        const end = buf.indexOf(CRLF2);
        if (end < 0) {
          if (buf.length > MAX_HEAD_BYTES) throw new HttpError("protocol", "response head too large");
          return null;
        }
        const parsed = parseHead(buf.subarray(0, end).toString("latin1"));
        this.consume(end + 4);
        if (parsed.status >= 100 && parsed.status < 200) continue; // 100 Continue etc.: the real answer follows
        this.head = parsed;
        this.setup();
        if (this.bodyMode === "none") return this.finish();
      }
      if (this.bodyMode === "length") {
        if (this.size < this.remaining) {
          if (this.size > 0) this.takeAll();
          return null;
        }
        this.take(this.remaining);
        this.remaining = 0;
        return this.finish();
      }
      if (this.bodyMode === "close") {
        if (this.size > 0) this.takeAll();
        return null;
      }
      // chunked
      const done = this.chunked();
      if (done) return this.finish();
      return null;
    }
  }

  /** The connection closed: a body read until close is complete now. */
  end(): Http1Response | null {
    if (this.head !== null && this.bodyMode === "close") return this.finish();
    return null;
  }

  private setup(): void {
    const h = this.head!;
    const connection = (h.headers.connection ?? "").toLowerCase();
    if (connection.includes("close")) this.keepAlive = false;
    if (this.method === "HEAD" || h.status === 204 || h.status === 304) {
      this.bodyMode = "none";
      return;
    }
    const te = (h.headers["transfer-encoding"] ?? "").toLowerCase();
    if (te.includes("chunked")) {
      this.bodyMode = "chunked";
      return;
    }
    const length = h.headers["content-length"];
    if (length !== undefined) {
      if (!/^\d+$/.test(length)) throw new HttpError("protocol", `bad content-length ${length}`);
      const n = Number(length);
      if (n > this.maxBytes) {
        throw new HttpError("too_large", `the body is ${n} bytes, over the limit of ${this.maxBytes}`);
      }
      this.bodyMode = n === 0 ? "none" : "length";
      this.remaining = n;
      return;
    }
    this.bodyMode = "close";
    this.keepAlive = false;
  }

  private addBody(part: Buffer): void {
    this.bodySize += part.length;
    if (this.bodySize > this.maxBytes) {
      throw new HttpError("too_large", `the body is over the limit of ${this.maxBytes} bytes`);
    }
    this.body.push(part);
  }

  private take(n: number): void {
    const buf = this.buffer();
    this.addBody(buf.subarray(0, n));
    this.consume(n);
  }

  private takeAll(): void {
    const buf = this.buffer();
    if (this.bodyMode === "length") this.remaining -= buf.length;
    this.addBody(buf);
    this.chunks = [];
    this.size = 0;
  }

  /** Advances the chunked decoder; true when the last chunk and trailers were read. */
  private chunked(): boolean {
    for (;;) {
      const buf = this.buffer();
      if (this.chunkState === "size") {
        const eol = buf.indexOf("\r\n");
        if (eol < 0) {
          if (buf.length > 1024) throw new HttpError("protocol", "bad chunk size line");
          return false;
        }
        const line = buf.subarray(0, eol).toString("latin1");
        const hex = line.split(";")[0]!.trim();
        if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new HttpError("protocol", `bad chunk size "${hex}"`);
        this.remaining = Number.parseInt(hex, 16);
        this.consume(eol + 2);
        this.chunkState = this.remaining === 0 ? "trailers" : "data";
        continue;
      }
      if (this.chunkState === "data") {
        if (buf.length === 0) return false;
        const n = Math.min(buf.length, this.remaining);
        this.addBody(buf.subarray(0, n));
        this.consume(n);
        this.remaining -= n;
        if (this.remaining > 0) return false;
        this.chunkState = "data-crlf";
        continue;
      }
      if (this.chunkState === "data-crlf") {
        if (buf.length < 2) return false;
        if (buf[0] !== 13 || buf[1] !== 10) throw new HttpError("protocol", "missing CRLF after a chunk");
        this.consume(2);
        this.chunkState = "size";
        continue;
      }
      // trailers: lines until an empty one
      const eol = buf.indexOf("\r\n");
      if (eol < 0) return false;
      this.consume(eol + 2);
      if (eol === 0) return true;
    }
  }

  private finish(): Http1Response {
    if (this.size > 0) this.keepAlive = false; // bytes past the answer: do not trust the connection
    const body = this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body, this.bodySize);
    return { status: this.head!.status, headers: this.head!.headers, body };
  }
}

function parseHead(text: string): { status: number; headers: Record<string, string> } {
  const lines = text.split("\r\n");
  const statusLine = lines[0] ?? "";
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw new HttpError("protocol", `bad status line "${statusLine.slice(0, 40)}"`);
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(m[1]), headers };
}
