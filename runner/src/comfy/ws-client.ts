/**
 * A small RFC 6455 websocket client on node:http, for ComfyUI's /ws. Node's global WebSocket (undici) always
 * offers permessage-deflate, which ComfyUI's aiohttp accepts: every frame of every prompt then gets inflated,
 * about 2 ms of CPU per trivial job, half the runner's budget. This client offers no extension, so frames
 * arrive as sent. It handles what a client needs: the handshake, text and binary messages (fragmented or not),
 * ping/pong, close, and a size cap.
 */
import { createHash, randomBytes } from "node:crypto";
import type { ClientRequest } from "node:http";
import type { Socket } from "node:net";

// node:http(s) through getBuiltinModule: an ESM import of node:http also loads undici (building the ESM
// facade reads its lazy fetch/WebSocket exports), about 2 MB and start-up CPU the runner does not use.
const http = process.getBuiltinModule("node:http");
const https = process.getBuiltinModule("node:https");

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export interface MiniWebSocketHandlers {
  open(): void;
  text(data: string): void;
  binary(data: Uint8Array): void;
  /** Always called once, after open or after a failed handshake. */
  close(code: number, reason: string): void;
}

export interface MiniWebSocketOptions {
  /** Largest message accepted (bytes); bigger closes the connection with 1009. Default 64 MiB. */
  maxMessageBytes?: number;
  handshakeTimeoutMs?: number;
}

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** Encodes one client frame (clients must mask). */
export function encodeFrame(opcode: number, payload: Uint8Array, mask: Buffer = randomBytes(4)): Buffer {
  const length = payload.byteLength;
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + 4 + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = 0x80 | length;
  else if (length < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  mask.copy(frame, headerLength, 0, 4);
  for (let i = 0; i < length; i++) frame[headerLength + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}

export type DecodedFrame = { fin: boolean; opcode: number; payload: Buffer };

/**
 * Incremental frame decoder: push bytes as they arrive, get complete frames. Throws FrameError on a protocol
 * violation or a frame over the size cap.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): DecodedFrame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const frames: DecodedFrame[] = [];
    for (;;) {
      if (this.size < 2) break;
      const head = this.peek(Math.min(this.size, 14));
      const b0 = head[0]!;
      const b1 = head[1]!;
      if ((b0 & 0x70) !== 0) throw new FrameError(1002, "reserved bits set (no extension was negotiated)");
      const masked = (b1 & 0x80) !== 0;
      let length = b1 & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (head.length < 4) break;
        length = head.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (head.length < 10) break;
        const big = head.readBigUInt64BE(2);
        if (big > BigInt(this.maxBytes)) throw new FrameError(1009, "frame too large");
        length = Number(big);
        offset = 10;
      }
      if (length > this.maxBytes) throw new FrameError(1009, "frame too large");
      const maskOffset = offset;
      if (masked) offset += 4;
      if (this.size < offset + length) break;
      const raw = this.take(offset + length);
      let payload = raw.subarray(offset);
      if (masked) {
        // Servers do not mask; unmask into a copy rather than touching the caller's buffer.
        const plain = Buffer.allocUnsafe(length);
        for (let i = 0; i < length; i++) plain[i] = payload[i]! ^ raw[maskOffset + (i & 3)]!;
        payload = plain;
      }
      frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload });
    }
    return frames;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    const parts: Buffer[] = [];
    let have = 0;
    for (const chunk of this.chunks) {
      parts.push(chunk);
      have += chunk.length;
      if (have >= n) break;
    }
    return Buffer.concat(parts, have).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length === n) {
      this.chunks.shift();
      this.size -= n;
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.size -= n;
      return first.subarray(0, n);
    }
    const all = Buffer.concat(this.chunks, this.size);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    return out;
  }
}

export class FrameError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** Assembles messages from frames (fragmentation, control frames interleaved). */
export class MessageAssembler {
  private opcode: number | null = null;
  private parts: Buffer[] = [];
  private size = 0;
  private readonly maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** A complete data message, a control frame, or null (fragment kept). */
  add(frame: DecodedFrame): { opcode: number; payload: Buffer } | null {
    if (frame.opcode >= 0x8) {
      if (!frame.fin || frame.payload.length > 125) throw new FrameError(1002, "bad control frame");
      return { opcode: frame.opcode, payload: frame.payload };
    }
    if (frame.opcode === OP_CONTINUATION) {
      if (this.opcode === null) throw new FrameError(1002, "continuation without a message");
    } else {
      if (frame.opcode !== OP_TEXT && frame.opcode !== OP_BINARY) throw new FrameError(1002, "unknown opcode");
      if (this.opcode !== null) throw new FrameError(1002, "new message inside a fragmented one");
      if (frame.fin) return { opcode: frame.opcode, payload: frame.payload };
      this.opcode = frame.opcode;
    }
    this.size += frame.payload.length;
    if (this.size > this.maxBytes) throw new FrameError(1009, "message too large");
    this.parts.push(frame.payload);
    if (!frame.fin) return null;
    const message = { opcode: this.opcode!, payload: Buffer.concat(this.parts, this.size) };
    this.opcode = null;
    this.parts = [];
    this.size = 0;
    return message;
  }
}

const textDecoder = new TextDecoder("utf-8");

export class MiniWebSocket {
  private socket: Socket | null = null;
  private request: ClientRequest | null = null;
  private closed = false;
  private closeSent = false;
  private readonly handlers: MiniWebSocketHandlers;
  private readonly maxBytes: number;

  /** `url` is ws:// or wss://. */
  constructor(url: string, handlers: MiniWebSocketHandlers, options: MiniWebSocketOptions = {}) {
    this.handlers = handlers;
    this.maxBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
    const target = new URL(url);
    const secure = target.protocol === "wss:";
    target.protocol = secure ? "https:" : "http:";
    const key = randomBytes(16).toString("base64");
    const expected = createHash("sha1")
      .update(key + GUID)
      .digest("base64");
    const req = (secure ? https : http).request(target, {
      agent: false,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": key,
      },
      timeout: options.handshakeTimeoutMs ?? 10_000,
    });
    this.request = req;
    req.on("upgrade", (res, socket, head) => {
      this.request = null;
      socket.setTimeout(0);
      if (this.closed) {
        socket.destroy();
        return;
      }
      if (res.headers["sec-websocket-accept"] !== expected) {
        socket.destroy();
        this.finish(1002, "bad Sec-WebSocket-Accept");
        return;
      }
      if (res.headers["sec-websocket-extensions"]) {
        socket.destroy();
        this.finish(1010, "the server chose an extension that was not offered");
        return;
      }
      this.attach(socket, head);
    });
    req.on("response", (res) => {
      res.resume();
      this.finish(1006, `handshake answered HTTP ${res.statusCode}`);
    });
    req.on("timeout", () => {
      if (this.request === req) req.destroy(new Error("handshake timed out"));
    });
    req.on("error", (err) => this.finish(1006, err.message));
    req.end();
  }

  get isOpen(): boolean {
    return this.socket !== null && !this.closed;
  }

  private attach(socket: Socket, head: Buffer): void {
    this.socket = socket;
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(this.maxBytes);
    const assembler = new MessageAssembler(this.maxBytes);
    const onData = (chunk: Buffer) => {
      if (this.closed) return;
      try {
        for (const frame of decoder.push(chunk)) {
          const message = assembler.add(frame);
          if (message) this.deliver(message.opcode, message.payload);
          if (this.closed) return;
        }
      } catch (err) {
        const code = err instanceof FrameError ? err.code : 1002;
        this.sendClose(code);
        socket.destroy();
        this.finish(code, (err as Error).message);
      }
    };
    socket.on("data", onData);
    socket.on("close", () => this.finish(1006, "connection closed"));
    socket.on("error", () => {
      // "close" follows.
    });
    this.handlers.open();
    if (head.length > 0) onData(head);
  }

  private deliver(opcode: number, payload: Buffer): void {
    switch (opcode) {
      case OP_TEXT:
        this.handlers.text(textDecoder.decode(payload));
        return;
      case OP_BINARY:
        this.handlers.binary(payload);
        return;
      case OP_PING:
        this.write(OP_PONG, payload);
        return;
      case OP_PONG:
        return;
      case OP_CLOSE: {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        const reason = payload.length > 2 ? textDecoder.decode(payload.subarray(2)) : "";
        this.sendClose(code === 1005 ? 1000 : code);
        this.socket?.end();
        this.finish(code, reason);
        return;
      }
    }
  }

  private write(opcode: number, payload: Uint8Array): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    socket.write(encodeFrame(opcode, payload));
  }

  private sendClose(code: number): void {
    if (this.closeSent) return;
    this.closeSent = true;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000);
    this.write(OP_CLOSE, payload);
  }

  send(text: string): void {
    if (!this.isOpen) return;
    this.write(OP_TEXT, Buffer.from(text, "utf8"));
  }

  /** Closes (1000) and drops the connection shortly after if the server does not answer. */
  close(): void {
    if (this.closed) return;
    if (this.request) {
      this.request.destroy();
      this.finish(1000, "closed before opening");
      return;
    }
    const socket = this.socket;
    this.sendClose(1000);
    socket?.end();
    const timer = setTimeout(() => socket?.destroy(), 1_000);
    timer.unref();
    this.finish(1000, "closed");
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.close(code, reason);
  }
}
