/** Server-sent events of one job: replay of past events, then live ones, with a keep-alive comment. */
import type { JobEventRecord } from "./state.ts";

const KEEPALIVE_MS = 15_000;
const encoder = new TextEncoder();

export function sseFrame(e: JobEventRecord): string {
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ sequence: e.seq, type: e.type, at: new Date(e.at).toISOString(), ...e.data })}\n\n`;
}

export class SseHub {
  private subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  private keepAlive: ReturnType<typeof setInterval> | null = null;

  /** A stream that starts with `past`; it ends at once when `ended`, else stays open for live events. */
  open(past: JobEventRecord[], ended: boolean): Response {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    let text = ": connected\n\n";
    for (const e of past) text += sseFrame(e);
    void writer.write(encoder.encode(text)).catch(() => {});
    if (ended) {
      void writer.close().catch(() => {});
    } else {
      this.subscribers.add(writer);
      this.startKeepAlive();
    }
    return new Response(readable, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        "x-accel-buffering": "no",
      },
    });
  }

  broadcast(e: JobEventRecord): void {
    if (this.subscribers.size === 0) return;
    this.write(encoder.encode(sseFrame(e)));
  }

  close(): void {
    for (const w of this.subscribers) void w.close().catch(() => {});
    this.subscribers.clear();
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
  }

  private write(bytes: Uint8Array): void {
    for (const w of this.subscribers) w.write(bytes).catch(() => this.subscribers.delete(w));
  }

  private startKeepAlive(): void {
    if (this.keepAlive) return;
    this.keepAlive = setInterval(() => {
      if (this.subscribers.size === 0) {
        if (this.keepAlive) clearInterval(this.keepAlive);
        this.keepAlive = null;
        return;
      }
      this.write(encoder.encode(": keep-alive\n\n"));
    }, KEEPALIVE_MS);
  }
}
