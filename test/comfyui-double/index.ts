/**
 * ComfyUI test double: an HTTP + websocket server on 127.0.0.1 that answers the runner's calls as ComfyUI 0.33 does
 * (recordings in fixtures/), with knobs for the faults a runner must survive. See README.md.
 */
import { mkdtempSync } from "node:fs";
import http from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocketServer } from "ws";
import type { Fault } from "./executor.ts";
import { BASE_DIR, DIRS, FileStore } from "./files.ts";
import { createRegistry, type SavedFile } from "./nodes.ts";
import { type HistoryEntry, Runtime } from "./runtime.ts";
import { handleRequest } from "./server.ts";

export type { HistoryEntry } from "./runtime.ts";

export interface ComfyDoubleOptions {
  /** default 0 (random); host is always 127.0.0.1 */
  port?: number;
  /** default per-node execution time (ms); default 1 (the real server runs a 3-node prompt in ~5 ms) */
  nodeDelayMs?: number;
  /** simulated GC stall (ms) after a prompt / when idle, once gcIntervalMs passed since the last one; 0 = off */
  gcPauseMs?: number;
  /** default 10_000 */
  gcIntervalMs?: number;
  /** model files per folder (GET /models/{folder}; CheckpointLoaderSimple's ckpt_name list uses "checkpoints") */
  models?: Record<string, string[]>;
}

export interface PromptRecord {
  prompt_id: string;
  number: number;
  client_id?: string;
  prompt: unknown;
}

export interface UploadRecord {
  name: string;
  subfolder: string;
  type: string;
  bytes: Uint8Array;
}

export type OutputRecord = SavedFile;

export interface ComfyDouble {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** ComfyUI's folders on disk (files the double wrote are real files there; what is deleted is gone) */
  folders: { base: string; input: string; output: string; temp: string };
  /** terminate every websocket abruptly (like a network drop); HTTP keeps working */
  dropSockets(): void;
  /** close the listener and drop all connections (on) / listen again on the same port (off); resolves when done */
  setRefuseConnections(on: boolean): Promise<void>;
  /** crash: sockets destroyed, listener closed, queue/history/caches and the running prompt lost */
  die(): Promise<void>;
  /** come back on the same port as a fresh process: empty queue/history/caches, counter 0; input/ and output/
   * files persist (they are on disk for ComfyUI), temp/ is emptied (ComfyUI cleans it at startup) */
  restart(): Promise<void>;
  /** per-class execution time (ms), overriding nodeDelayMs */
  setNodeDelay(classType: string, ms: number): void;
  /** the next `times` (default: all) executions of this class raise `type` (default "Exception") with `message` */
  failNode(classType: string, exception: { message: string; type?: string; times?: number }): void;
  /** removes failNode/setNodeDelay settings */
  clearFaults(): void;
  /** snapshot of GET /history (insertion order) */
  history(): Record<string, HistoryEntry>;
  /** every accepted /upload/image request, in order, with the name it was stored under */
  uploads(): UploadRecord[];
  /** every file written by SaveImage / PreviewImage, in order */
  outputs(): OutputRecord[];
  /** every prompt accepted by POST /prompt (200), in order, across restarts */
  prompts(): PromptRecord[];
  /** GC pauses (gcPauseMs) begun since the last start or restart */
  gcPauses(): number;
  close(): Promise<void>;
}

export async function startComfyDouble(options: ComfyDoubleOptions = {}): Promise<ComfyDouble> {
  const files = new FileStore(mkdtempSync(join(tmpdir(), "comfyui-double-")));
  const folders = {
    base: files.real(BASE_DIR),
    input: files.real(DIRS.input),
    output: files.real(DIRS.output),
    temp: files.real(DIRS.temp),
  };
  const models = options.models ?? {};
  const registry = createRegistry({ files, models });
  const delays = new Map<string, number>();
  const faults = new Map<string, Fault>();
  const promptLog: PromptRecord[] = [];
  const uploadLog: UploadRecord[] = [];
  const outputLog: OutputRecord[] = [];

  const newRuntime = (): Runtime =>
    new Runtime({
      registry,
      files,
      nodeDelayMs: (c) => delays.get(c) ?? options.nodeDelayMs ?? 1,
      takeFault: (c) => {
        const f = faults.get(c);
        if (f === undefined) return undefined;
        f.remaining--;
        if (f.remaining <= 0) faults.delete(c);
        return f;
      },
      gcPauseMs: options.gcPauseMs ?? 0,
      gcIntervalMs: options.gcIntervalMs ?? 10_000,
      saved: (f) => outputLog.push(f),
      random: Math.random,
    });

  let runtime = newRuntime();
  runtime.start();
  let refusing = false;
  let dead = false;
  let closed = false;

  const host = {
    runtime: () => runtime,
    files,
    registry,
    models,
    promptAccepted: (p: PromptRecord) => promptLog.push(p),
    uploaded: (u: UploadRecord) => uploadLog.push(u),
  };

  const connections = new Set<Socket>();
  const server = http.createServer((req, res) => {
    handleRequest(host, req, res).catch(() => res.destroy());
  });
  server.on("connection", (socket: Socket) => {
    connections.add(socket);
    socket.on("close", () => connections.delete(socket));
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: { threshold: 0 } });
  server.on("upgrade", (req, socket: Socket, head) => {
    const rt = runtime;
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/ws" && url.pathname !== "/api/ws") {
      socket.end(
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\n\r\n404: Not Found",
      );
      return;
    }
    rt.stall.wait().then(() => {
      if (rt.dead || socket.destroyed) return socket.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => rt.hub.attach(ws, url.searchParams.get("clientId") ?? ""));
    });
  });

  let port = options.port ?? 0;
  const listen = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        const address = server.address();
        if (address !== null && typeof address === "object") port = address.port;
        resolve();
      });
    });
  let closing: Promise<void> = Promise.resolve();
  const stopListening = (): Promise<void> => {
    for (const ws of wss.clients) ws.terminate();
    for (const socket of connections) socket.destroy();
    if (server.listening) {
      closing = new Promise<void>((resolve) => server.close(() => resolve()));
    }
    return closing;
  };
  const shouldListen = (): boolean => !refusing && !dead && !closed;

  await listen();

  const double: ComfyDouble = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    folders,
    dropSockets() {
      for (const ws of wss.clients) ws.terminate();
    },
    async setRefuseConnections(on: boolean) {
      refusing = on;
      if (on) await stopListening();
      else if (shouldListen() && !server.listening) {
        await closing;
        await listen();
      }
    },
    async die() {
      if (dead || closed) return;
      dead = true;
      runtime.kill();
      await stopListening();
    },
    async restart() {
      if (closed) throw new Error("the double is closed");
      if (!dead) await double.die();
      files.clearTemp();
      runtime = newRuntime();
      runtime.start();
      dead = false;
      if (shouldListen()) {
        await closing;
        await listen();
      }
    },
    setNodeDelay(classType, ms) {
      delays.set(classType, ms);
    },
    failNode(classType, exception) {
      faults.set(classType, {
        message: exception.message,
        type: exception.type,
        remaining: exception.times ?? Number.POSITIVE_INFINITY,
      });
    },
    clearFaults() {
      delays.clear();
      faults.clear();
    },
    history() {
      return structuredClone(Object.fromEntries(runtime.history));
    },
    uploads: () => uploadLog.map((u) => ({ ...u })),
    outputs: () => outputLog.map((o) => ({ ...o })),
    prompts: () => promptLog.map((p) => structuredClone(p)),
    gcPauses: () => runtime.stall.count,
    async close() {
      if (closed) return;
      closed = true;
      runtime.kill();
      await stopListening();
      wss.close();
      files.destroy();
    },
  };
  return double;
}
