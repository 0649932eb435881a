/**
 * One long-lived websocket per ComfyUI instance (`/ws?clientId=<slot's id>`, on the `ws` package), reconnected with
 * backoff when it drops. ComfyUI routes a prompt's execution events only to the socket whose clientId is the prompt's
 * client_id, so each slot keeps one stable id. Text frames are parsed (messages.ts), binary frames decoded.
 * Nothing depends on this socket alone: jobs reconcile with /history whenever it reconnects.
 * No permessage-deflate: ComfyUI's aiohttp would accept it, and every frame of every prompt (previews
 * included) would then be inflated here for nothing on a loopback or LAN link.
 */

import { backoffMs } from "@comfy-edge/shared/backoff";
import WebSocket from "ws";
import type { Logger } from "../log.ts";
import { type BinaryFrame, type ComfyMessage, decodeBinaryFrame, parseTextFrame } from "./messages.ts";

/** Largest message accepted (a preview or SaveImageWebsocket frame); bigger closes the socket. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface SocketListener {
  message?(message: ComfyMessage): void;
  binary?(frame: BinaryFrame): void;
  open?(reconnected: boolean): void;
  close?(): void;
}

export interface ComfySocketOptions {
  baseUrl: string;
  clientId: string;
  log: Logger;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
}

export function wsUrl(baseUrl: string, clientId: string): string {
  const url = new URL(`${baseUrl.replace(/\/+$/, "")}/ws`);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("clientId", clientId);
  return url.toString();
}

export class ComfySocket {
  readonly clientId: string;
  private readonly url: string;
  private readonly log: Logger;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private ws: WebSocket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private everOpened = false;
  private stopped = true;
  private readonly listeners = new Set<SocketListener>();
  private openWaiters: Array<() => void> = [];
  /** Counts opens; a job compares it to notice a reconnect it may have missed. */
  generation = 0;

  constructor(options: ComfySocketOptions) {
    this.clientId = options.clientId;
    this.url = wsUrl(options.baseUrl, options.clientId);
    this.log = options.log;
    this.baseMs = options.reconnectBaseMs ?? 250;
    this.maxMs = options.reconnectMaxMs ?? 5_000;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  subscribe(listener: SocketListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Connects now if the socket is down and waiting for its backoff (e.g. ComfyUI answered a health check). */
  nudge(): void {
    if (this.stopped || this.ws !== null) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }

  /** Resolves true once open, false after `timeoutMs`. */
  waitOpen(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.isOpen) return Promise.resolve(true);
    return new Promise((resolve) => {
      let done = false;
      const finish = (value: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.openWaiters = this.openWaiters.filter((w) => w !== onOpen);
        resolve(value);
      };
      const onOpen = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.openWaiters.push(onOpen);
      this.nudge();
    });
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    // terminate(): no closing handshake to wait for (ComfyUI may be gone); "close" still fires, ignored.
    ws?.terminate();
    for (const waiter of this.openWaiters.splice(0)) waiter();
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.url, {
      perMessageDeflate: false,
      maxPayload: MAX_MESSAGE_BYTES,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    ws.on("open", () => {
      if (this.ws !== ws) return;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.failures = 0;
      this.generation += 1;
      if (reconnected) this.log.info("comfyui websocket reconnected");
      else this.log.debug("comfyui websocket open");
      for (const waiter of this.openWaiters.splice(0)) waiter();
      for (const l of this.listeners) l.open?.(reconnected);
    });
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (this.ws !== ws) return;
      if (!isBinary) {
        const message = parseTextFrame(data.toString("utf8"));
        if (message.type === "invalid") {
          this.log.warn("comfyui sent a websocket frame this runner cannot read", {
            frame_type: message.rawType,
            problem: message.problem,
          });
        }
        for (const l of this.listeners) l.message?.(message);
        return;
      }
      if (this.listeners.size === 0) return;
      const frame = decodeBinaryFrame(data);
      for (const l of this.listeners) l.binary?.(frame);
    });
    // A failed handshake or a broken connection: "close" follows, which reconnects.
    ws.on("error", (err) => {
      if (this.ws === ws) this.log.debug("comfyui websocket error", { error: err });
    });
    ws.on("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
      for (const l of this.listeners) l.close?.();
      this.scheduleReconnect();
    });
    this.ws = ws;
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timer) return;
    this.failures += 1;
    const delay = backoffMs(this.failures, { baseMs: this.baseMs, maxMs: this.maxMs });
    if (this.failures === 1 || this.failures % 20 === 0) {
      this.log.debug("comfyui websocket closed; reconnecting", { attempt: this.failures, delay_ms: delay });
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
    this.timer.unref?.();
  }
}
