import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { silentLogger } from "../log.ts";
import type { BinaryFrame, ComfyMessage } from "./messages.ts";
import { ComfySocket } from "./socket.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function wsServer() {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  const connections: Array<{ ws: WebSocket; url: string; extensions: string | undefined }> = [];
  server.on("connection", (ws, req) =>
    connections.push({ ws, url: req.url ?? "", extensions: req.headers["sec-websocket-extensions"] }),
  );
  cleanups.push(() => {
    for (const client of server.clients) client.terminate();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections };
}

describe("ComfySocket (ws)", () => {
  it("connects with the slot's clientId and no permessage-deflate, and delivers text and binary frames", async () => {
    const server = await wsServer();
    const socket = new ComfySocket({ baseUrl: server.url, clientId: "slot-1", log: silentLogger });
    cleanups.push(() => socket.close());
    const messages: ComfyMessage[] = [];
    const frames: BinaryFrame[] = [];
    socket.subscribe({ message: (m) => messages.push(m), binary: (f) => frames.push(f) });
    socket.start();
    expect(await socket.waitOpen(10_000)).toBe(true);
    expect(server.connections).toHaveLength(1);
    const conn = server.connections[0]!;
    expect(conn.url).toBe("/ws?clientId=slot-1");
    expect(conn.extensions).toBeUndefined();
    conn.ws.send(JSON.stringify({ type: "executing", data: { node: "3", prompt_id: "p1" } }));
    const preview = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 2]), Buffer.from("PNG")]);
    conn.ws.send(preview, { binary: true });
    await expect.poll(() => frames.length).toBe(1);
    expect(messages.map((m) => m.type)).toEqual(["executing"]);
    expect(frames[0]).toMatchObject({ type: "preview_image", format: "png" });
    expect(Buffer.from((frames[0] as { image: Uint8Array }).image).toString()).toBe("PNG");
  });

  it("reconnects after the server drops the connection, and says it reconnected", async () => {
    const server = await wsServer();
    const socket = new ComfySocket({ baseUrl: server.url, clientId: "slot-2", log: silentLogger, reconnectBaseMs: 10 });
    cleanups.push(() => socket.close());
    const opens: boolean[] = [];
    let closes = 0;
    socket.subscribe({ open: (reconnected) => opens.push(reconnected), close: () => closes++ });
    socket.start();
    expect(await socket.waitOpen(10_000)).toBe(true);
    server.connections[0]!.ws.terminate();
    await expect.poll(() => opens).toEqual([false, true]);
    expect(closes).toBe(1);
    expect(socket.generation).toBe(2);
    expect(server.connections).toHaveLength(2);
    socket.close();
    await expect.poll(() => socket.isOpen).toBe(false);
  });
});
