import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { encodeFrame, FrameDecoder, FrameError, MessageAssembler, MiniWebSocket } from "./ws-client.ts";

const servers: WebSocketServer[] = [];
afterAll(async () => {
  for (const s of servers) {
    for (const c of s.clients) c.terminate();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** A `ws` server (the library ComfyUI's double uses) offering permessage-deflate, as aiohttp does. */
async function server(onConnection: (ws: WebSocket, url: string) => void): Promise<string> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: { threshold: 0 } });
  servers.push(wss);
  wss.on("connection", (ws, req) => onConnection(ws, req.url ?? ""));
  await new Promise<void>((resolve) => wss.once("listening", resolve));
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
}

interface Received {
  texts: string[];
  binaries: Uint8Array[];
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;
}

function connect(url: string): { ws: MiniWebSocket; got: Received } {
  let opened!: () => void;
  let closed!: (v: { code: number; reason: string }) => void;
  const got: Received = {
    texts: [],
    binaries: [],
    opened: new Promise((r) => (opened = r)),
    closed: new Promise((r) => (closed = r)),
  };
  const ws = new MiniWebSocket(url, {
    open: () => opened(),
    text: (t) => got.texts.push(t),
    binary: (b) => got.binaries.push(b),
    close: (code, reason) => closed({ code, reason }),
  });
  return { ws, got };
}

describe("MiniWebSocket against a ws server", () => {
  it("receives text and binary messages of every length encoding, uncompressed, and sends masked text", async () => {
    const sizes = [0, 5, 125, 126, 65_535, 65_536, 300_000];
    let serverSide!: WebSocket;
    const fromClient = new Promise<string>((resolve) => {
      void server((ws, url) => {
        serverSide = ws;
        expect(url).toBe("/ws?clientId=abc");
        expect(ws.extensions).toBe(""); // permessage-deflate was not negotiated
        ws.on("message", (data, isBinary) => {
          if (!isBinary) resolve(data.toString());
        });
        for (const n of sizes) ws.send("x".repeat(n));
        for (const n of sizes) ws.send(Buffer.alloc(n, n % 251), { binary: true });
        ws.send('{"type": "status", "data": {"é": "ü"}}');
      }).then((url) => {
        const { ws, got } = connect(`${url}/ws?clientId=abc`);
        got.opened.then(() => ws.send('{"type": "feature_flags", "data": {}}'));
        holder.got = got;
        holder.ws = ws;
      });
    });
    const holder: { got?: Received; ws?: MiniWebSocket } = {};
    expect(await fromClient).toBe('{"type": "feature_flags", "data": {}}');
    const got = holder.got!;
    await new Promise<void>((resolve) => {
      const check = () => (got.texts.length === sizes.length + 1 ? resolve() : setImmediate(check));
      check();
    });
    expect(got.texts.slice(0, sizes.length).map((t) => t.length)).toEqual(sizes);
    expect(got.texts.at(-1)).toBe('{"type": "status", "data": {"é": "ü"}}');
    expect(got.binaries.map((b) => b.byteLength)).toEqual(sizes);
    got.binaries.forEach((b, i) => {
      if (b.byteLength > 0) expect(b[b.byteLength - 1]).toBe(sizes[i]! % 251);
    });
    const serverClosed = new Promise<number>((resolve) => serverSide.once("close", (code) => resolve(code)));
    holder.ws!.close();
    expect(await serverClosed).toBe(1000);
    expect((await got.closed).code).toBe(1000);
  });

  it("assembles fragmented messages, answers pings, and reports the server's close", async () => {
    let pong!: (data: string) => void;
    const ponged = new Promise<string>((r) => (pong = r));
    const url = await server((ws) => {
      ws.on("pong", (data) => pong(data.toString()));
      ws.send("frag", { fin: false });
      ws.send("ment", { fin: false });
      ws.send("ed", { fin: true });
      ws.ping("are you there");
      setTimeout(() => ws.close(1001, "going away"), 20);
    });
    const { got } = connect(url);
    expect(await ponged).toBe("are you there");
    expect(await got.closed).toEqual({ code: 1001, reason: "going away" });
    expect(got.texts).toEqual(["fragmented"]);
  });

  it("reports a failed handshake and a dropped connection as closes", async () => {
    const refused = connect("ws://127.0.0.1:1/ws");
    expect((await refused.got.closed).code).toBe(1006);
    const url = await server((ws) => setTimeout(() => ws.terminate(), 10));
    const dropped = connect(url);
    await dropped.got.opened;
    expect((await dropped.got.closed).code).toBe(1006);
  });
});

describe("frame decoding", () => {
  const unmasked = (opcode: number, payload: Buffer, fin = true) => {
    const masked = encodeFrame(opcode, payload, Buffer.alloc(4)); // zero mask = plain payload
    const headerLength = masked.length - 4 - payload.length;
    const frame = Buffer.concat([masked.subarray(0, headerLength), payload]);
    frame[1] = frame[1]! & 0x7f;
    if (!fin) frame[0] = frame[0]! & 0x7f;
    return frame;
  };

  it("decodes frames split at any byte boundary, masked or not", () => {
    const payloads = [Buffer.from("hi"), Buffer.alloc(200, 7), Buffer.alloc(70_000, 9)];
    const stream = Buffer.concat([unmasked(1, payloads[0]!), encodeFrame(2, payloads[1]!), unmasked(2, payloads[2]!)]);
    for (const step of [1, 3, 7, 1000, stream.length]) {
      const decoder = new FrameDecoder(1 << 20);
      const frames = [];
      for (let i = 0; i < stream.length; i += step) frames.push(...decoder.push(stream.subarray(i, i + step)));
      expect(frames.map((f) => [f.opcode, f.fin, f.payload.length])).toEqual([
        [1, true, 2],
        [2, true, 200],
        [2, true, 70_000],
      ]);
      expect(Buffer.compare(frames[1]!.payload, payloads[1]!)).toBe(0);
    }
  });

  it("refuses reserved bits, oversize frames and broken fragmentation", () => {
    const rsv = unmasked(1, Buffer.from("x"));
    rsv[0] = rsv[0]! | 0x40;
    expect(() => new FrameDecoder(100).push(rsv)).toThrow(FrameError);
    expect(() => new FrameDecoder(100).push(unmasked(2, Buffer.alloc(200)))).toThrow("frame too large");
    const assembler = new MessageAssembler(100);
    expect(() => assembler.add({ fin: true, opcode: 0, payload: Buffer.alloc(1) })).toThrow("continuation");
    assembler.add({ fin: false, opcode: 1, payload: Buffer.alloc(60) });
    expect(() => assembler.add({ fin: true, opcode: 0, payload: Buffer.alloc(60) })).toThrow("message too large");
  });
});
