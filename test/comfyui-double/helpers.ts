/**
 * Test helpers: recordings from fixtures/, a websocket client (Node's global WebSocket) that keeps every frame and
 * lets tests wait for the frame they expect, HTTP helpers, and the recordings' compact message notation.
 */
import { readFileSync } from "node:fs";
import { afterEach, vi } from "vitest";
import { type ComfyDouble, type ComfyDoubleOptions, startComfyDouble } from "./index.ts";

export interface TimelineEntry {
  t_ms: number;
  kind: "http" | "ws_open" | "ws_recv" | "ws_send" | "note";
  ws?: string;
  path?: string;
  msg?: { type: string; data: Record<string, unknown> };
  frame?: "text" | "binary";
  event_type?: number;
  len?: number;
  head_hex?: string;
  decoded?: Record<string, unknown>;
  request?: { method: string; path: string; json?: unknown; body_raw?: string; note?: string };
  response?: {
    status: number;
    headers: Record<string, string>;
    body_len: number;
    body: unknown;
  };
}

export interface Recording {
  scenario: string;
  ws_sequence: Record<string, string[]>;
  timeline: TimelineEntry[];
  prompt_ids?: unknown;
  prompt_id?: string;
}

export function loadRecording(name: string): Recording {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8")) as Recording;
}

export function httpExchanges(rec: Recording): TimelineEntry[] {
  return rec.timeline.filter((e) => e.kind === "http" && runnerCalls(e.request?.method ?? "", e.request?.path ?? ""));
}

/**
 * Whether the runner makes this request, so the double serves it. Not served: /features, /embeddings,
 * /extensions, GET /prompt, GET /history (the list), POST /free, and /view's preview=/channel= variants.
 */
export function runnerCalls(method: string, path: string): boolean {
  const [route = "", query = ""] = path.replace(/^\/api\//, "/").split("?");
  if (["/features", "/embeddings", "/extensions", "/free"].includes(route)) return false;
  if (method === "GET" && (route === "/prompt" || route === "/history")) return false;
  return !/(^|&)(preview|channel)=/.test(query);
}

/** The recorded HTTP exchange whose request has this note (or path). */
export function exchange(rec: Recording, match: string): TimelineEntry {
  const found =
    httpExchanges(rec).find((e) => e.request?.note === match) ??
    httpExchanges(rec).find((e) => e.request?.path === match);
  if (found === undefined) throw new Error(`no recorded exchange ${match} in ${rec.scenario}`);
  return found;
}

export type WsMessage =
  | { kind: "text"; type: string; data: Record<string, unknown>; raw: string }
  | { kind: "binary"; eventType: number; bytes: Uint8Array };

export class WsClient {
  readonly messages: WsMessage[] = [];
  readonly closed: Promise<void>;
  private readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event: MessageEvent) => {
      if (typeof event.data === "string") {
        const parsed = JSON.parse(event.data) as { type: string; data: Record<string, unknown> };
        this.messages.push({ kind: "text", type: parsed.type, data: parsed.data, raw: event.data });
      } else {
        const bytes = new Uint8Array(event.data as ArrayBuffer);
        const eventType = new DataView(bytes.buffer).getUint32(0);
        this.messages.push({ kind: "binary", eventType, bytes });
      }
    });
    this.closed = new Promise<void>((resolve) => {
      ws.addEventListener("close", () => resolve());
    });
  }

  static open(baseUrl: string, clientId?: string, firstFrame?: unknown): Promise<WsClient> {
    const url = `${baseUrl.replace(/^http/, "ws")}/ws${clientId === undefined ? "" : `?clientId=${encodeURIComponent(clientId)}`}`;
    const ws = new WebSocket(url);
    const client = new WsClient(ws);
    return new Promise<WsClient>((resolve, reject) => {
      ws.addEventListener("open", () => {
        if (firstFrame !== undefined) ws.send(JSON.stringify(firstFrame));
        resolve(client);
      });
      ws.addEventListener("error", () => reject(new Error(`websocket ${url} failed`)));
    });
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  send(value: unknown): void {
    this.ws.send(JSON.stringify(value));
  }

  /** First message at index >= from matching the predicate (waits for it; fails after timeoutMs). */
  waitFor(
    predicate: (m: WsMessage) => boolean,
    from = 0,
    timeoutMs = 5000,
  ): Promise<{ message: WsMessage; index: number }> {
    return vi.waitFor(
      () => {
        for (let i = from; i < this.messages.length; i++) {
          const m = this.messages[i] as WsMessage;
          if (predicate(m)) return { message: m, index: i };
        }
        throw new Error(`no such websocket message yet; got: ${this.compact().join(" | ")}`);
      },
      { timeout: timeoutMs, interval: 5 },
    );
  }

  /** Waits for `executing {node: null, prompt_id}`: the last message of a prompt. */
  async waitForPromptEnd(promptId: string, timeoutMs = 5000): Promise<number> {
    const { index } = await this.waitFor(
      (m) => m.kind === "text" && m.type === "executing" && m.data.node === null && m.data.prompt_id === promptId,
      0,
      timeoutMs,
    );
    return index;
  }

  compact(from = 0, to = this.messages.length): string[] {
    return this.messages.slice(from, to).map(compact);
  }

  texts(): Array<Extract<WsMessage, { kind: "text" }>> {
    return this.messages.filter((m): m is Extract<WsMessage, { kind: "text" }> => m.kind === "text");
  }

  close(): Promise<void> {
    this.ws.close();
    return this.closed;
  }
}

function pyList(ids: unknown[]): string {
  return `[${ids.map((i) => `'${String(i)}'`).join(", ")}]`;
}

/** The recordings' ws_sequence notation (binary frames without their length). */
export function compact(m: WsMessage): string {
  if (m.kind === "binary") return `<binary event_type=${m.eventType}>`;
  const d = m.data;
  switch (m.type) {
    case "status":
      return `status(queue_remaining=${(d.status as { exec_info: { queue_remaining: number } }).exec_info.queue_remaining})`;
    case "execution_cached":
      return `execution_cached(nodes=${pyList(d.nodes as unknown[])})`;
    case "progress_state":
      return `progress_state(${Object.entries(d.nodes as Record<string, { state: string }>)
        .map(([id, s]) => `${id}:${s.state}`)
        .join(",")})`;
    case "executing":
      return `executing(node=${d.node === null ? "None" : String(d.node)})`;
    case "executed":
    case "progress":
      return `${m.type}(node=${String(d.node)})`;
    default:
      return m.type;
  }
}

export function recordedSequence(rec: Recording, socket: string): string[] {
  return (rec.ws_sequence[socket] ?? []).map((s) => s.replace(/ len=\d+>$/, ">"));
}

export interface HttpResult {
  status: number;
  headers: Headers;
  bytes: Uint8Array;
  text: string;
  json: unknown;
}

export async function http(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<HttpResult> {
  const init: RequestInit = { method, headers };
  if (body !== undefined)
    init.body = typeof body === "string" || body instanceof FormData ? body : JSON.stringify(body);
  const res = await fetch(`${base}${path}`, init);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, text, json };
}

/** Deep-replaces every recorded prompt id by the double's and every timestamp by 0. */
export function normalize(value: unknown, ids: Map<string, string> = new Map()): unknown {
  if (typeof value === "string") return ids.get(value) ?? value;
  if (Array.isArray(value)) return value.map((v) => normalize(v, ids));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[ids.get(k) ?? k] = k === "timestamp" ? 0 : normalize(v, ids);
    }
    return out;
  }
  return value;
}

/** Burns `count` prompt numbers (POSTs without "prompt": 400 no_prompt, no other effect) so a fresh double's
 * counter reaches a recorded `number`. */
export async function skipNumbers(base: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const r = await http(base, "POST", "/prompt", {});
    if (r.status !== 400) throw new Error(`expected 400 no_prompt, got ${r.status}`);
  }
}

export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

export function hex(bytes: Uint8Array, n = bytes.length): string {
  return Buffer.from(bytes.subarray(0, n)).toString("hex");
}

/**
 * One double per test, closed with every websocket client the test opened: call once per test file.
 * `start()` starts the test's double; push clients to `clients` so they are closed after it.
 */
export function useDouble(): {
  start(options?: ComfyDoubleOptions): Promise<ComfyDouble>;
  clients: Array<{ close(): Promise<void> }>;
} {
  let double: ComfyDouble | undefined;
  const clients: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await double?.close();
    double = undefined;
  });
  return {
    clients,
    async start(options) {
      double = await startComfyDouble(options);
      return double;
    },
  };
}
