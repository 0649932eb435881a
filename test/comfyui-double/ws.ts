/**
 * The websocket side of server.py's PromptServer: sockets keyed by clientId (sid), `status` on connect (+ the
 * current `executing` on reconnect), the optional first-frame feature_flags handshake, and send/broadcast of JSON
 * and binary frames through one ordered outbox (aiohttp's publish loop). A GC stall holds the outbox.
 *
 * Faithful quirk: like ComfyUI, closing a socket removes whatever socket is registered under its sid, so if a
 * client opens a second socket with the same clientId and then closes the first, the second stops receiving.
 */
import { randomUUID } from "node:crypto";
import type { WebSocket } from "ws";

export const SERVER_FEATURES = { supports_preview_metadata: true, max_upload_size: 104857600 };

export const BinaryEventTypes = {
  PREVIEW_IMAGE: 1,
  UNENCODED_PREVIEW_IMAGE: 2,
  TEXT: 3,
  PREVIEW_IMAGE_WITH_METADATA: 4,
};

/** A blocked event loop (Python GC holding the GIL): while active, HTTP handlers and websocket sends wait. */
export class Stall {
  private until: Promise<void> | undefined;
  private readonly listeners: Array<() => void> = [];
  /** Stalls begun so far. */
  count = 0;

  get active(): boolean {
    return this.until !== undefined;
  }

  run(ms: number, signal: AbortSignal): Promise<void> {
    if (ms <= 0 || this.until !== undefined) return this.until ?? Promise.resolve();
    this.count++;
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(finish, ms);
      function finish(): void {
        clearTimeout(timer);
        signal.removeEventListener("abort", finish);
        resolve();
      }
      signal.addEventListener("abort", finish, { once: true });
    }).then(() => {
      this.until = undefined;
      for (const l of this.listeners.splice(0)) l();
    });
    this.until = done;
    return done;
  }

  wait(): Promise<void> {
    return this.until ?? Promise.resolve();
  }

  onEnd(listener: () => void): void {
    this.listeners.push(listener);
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export class Hub {
  readonly sockets = new Map<string, WebSocket>();
  readonly metadata = new Map<string, { feature_flags: Record<string, unknown> }>();
  /** PromptServer.client_id: client of the prompt being executed (null = none; then sends broadcast). */
  clientId: string | null = null;
  lastNodeId: string | null = null;
  private readonly outbox: Array<() => void> = [];
  private flushScheduled = false;

  private readonly stall: Stall;
  private readonly queueInfo: () => { exec_info: { queue_remaining: number } };

  constructor(stall: Stall, queueInfo: () => { exec_info: { queue_remaining: number } }) {
    this.stall = stall;
    this.queueInfo = queueInfo;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.stall.active) {
        this.stall.onEnd(() => this.scheduleFlush());
        return;
      }
      for (const send of this.outbox.splice(0)) send();
    });
  }

  private enqueue(frame: () => Buffer | string, sid: string | null): void {
    this.outbox.push(() => {
      const data = frame();
      const targets =
        sid === null ? [...this.sockets.values()] : [this.sockets.get(sid)].filter((s) => s !== undefined);
      for (const ws of targets) {
        if (ws.readyState === ws.OPEN) ws.send(data, { binary: typeof data !== "string" });
      }
    });
    this.scheduleFlush();
  }

  /** send_sync(event, data, sid): JSON `{"type", "data"}`; sid null broadcasts. */
  send(event: string, data: unknown, sid: string | null): void {
    this.enqueue(() => JSON.stringify({ type: event, data }), sid);
  }

  sendBytes(eventType: number, payload: Uint8Array, sid: string | null): void {
    this.enqueue(() => Buffer.concat([u32(eventType), payload]), sid);
  }

  /** UNENCODED_PREVIEW_IMAGE -> PREVIEW_IMAGE: u32 format (2 = PNG) + image bytes */
  /** Format code 1 = JPEG, 2 = PNG. */
  sendPreview(png: Uint8Array, format: "png" | "jpeg", sid: string | null): void {
    this.sendBytes(BinaryEventTypes.PREVIEW_IMAGE, Buffer.concat([u32(format === "jpeg" ? 1 : 2), png]), sid);
  }

  sendPreviewWithMetadata(
    png: Uint8Array,
    format: "png" | "jpeg",
    metadata: Record<string, unknown>,
    sid: string | null,
  ): void {
    const json = Buffer.from(JSON.stringify({ ...metadata, image_type: `image/${format}` }), "utf8");
    this.sendBytes(BinaryEventTypes.PREVIEW_IMAGE_WITH_METADATA, Buffer.concat([u32(json.length), json, png]), sid);
  }

  supportsFeature(sid: string | null, feature: string): boolean {
    if (sid === null) return false;
    return this.metadata.get(sid)?.feature_flags[feature] === true;
  }

  /** websocket_handler */
  attach(ws: WebSocket, requestedClientId: string): void {
    let sid = requestedClientId;
    if (sid) this.sockets.delete(sid);
    else sid = randomUUID().replaceAll("-", "");
    this.sockets.set(sid, ws);
    this.metadata.set(sid, { feature_flags: {} });
    const mySid = sid;
    this.send("status", { status: this.queueInfo(), sid: mySid }, mySid);
    if (this.clientId === mySid && this.lastNodeId !== null) this.send("executing", { node: this.lastNodeId }, mySid);
    let first = true;
    ws.on("message", (raw, isBinary) => {
      if (isBinary) return;
      let data: unknown;
      try {
        data = JSON.parse(raw.toString());
      } catch {
        return;
      }
      if (typeof data !== "object" || data === null || Array.isArray(data)) return; // data.get raises
      const msg = data as { type?: unknown; data?: unknown };
      if (first && msg.type === "feature_flags") {
        const flags = msg.data === undefined ? {} : msg.data;
        const meta = this.metadata.get(mySid);
        if (meta)
          meta.feature_flags = (typeof flags === "object" && flags !== null ? flags : {}) as Record<string, unknown>;
        this.send("feature_flags", SERVER_FEATURES, mySid);
      }
      first = false;
    });
    ws.on("close", () => {
      this.sockets.delete(mySid);
      this.metadata.delete(mySid);
    });
    ws.on("error", () => {});
  }

  queueUpdated(): void {
    this.send("status", { status: this.queueInfo() }, null);
  }
}
