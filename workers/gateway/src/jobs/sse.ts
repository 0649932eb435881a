/**
 * Server-sent events of one job: replay of past events, then live ones, with a keep-alive comment. Sampler
 * previews are ephemeral: sent without `id:` (Last-Event-ID is untouched), held in memory only, the latest
 * one given to a subscriber that connects while the attempt runs.
 */
import type { JobPreviewEvent } from "@comfy-edge/shared/contract";
import type { JobEventRecord } from "./state.ts";

const KEEPALIVE_MS = 15_000;
/** Unread chunks after which a subscriber is skipped for previews. */
const SLOW_SUBSCRIBER_CHUNKS = 4;
const encoder = new TextEncoder();

export function sseFrame(e: JobEventRecord): string {
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ sequence: e.seq, type: e.type, at: new Date(e.at).toISOString(), ...e.data })}\n\n`;
}

function previewFrame(p: JobPreviewEvent): string {
  return `event: preview\ndata: ${JSON.stringify(p)}\n\n`;
}

export class SseHub {
  private subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  private keepAlive: ReturnType<typeof setInterval> | null = null;
  /** The latest preview of the running attempt, and how many previews this object has seen. */
  private preview: JobPreviewEvent | null = null;
  private previews = 0;

  /** Sends a preview to the subscribers that keep up (a slow one skips it) and keeps it as the latest. */
  sendPreview(p: JobPreviewEvent): void {
    this.preview = p;
    this.previews += 1;
    if (this.subscribers.size === 0) return;
    const bytes = encoder.encode(previewFrame(p));
    for (const w of this.subscribers) {
      // Best effort: a subscriber with several chunks unread gets no more frames queued in memory.
      if (w.desiredSize !== null && w.desiredSize < -SLOW_SUBSCRIBER_CHUNKS) continue;
      w.write(bytes).catch(() => this.subscribers.delete(w));
    }
  }

  /** The latest preview and its number (1, 2, ...), if newer than number `after`. */
  previewAfter(after: number): { n: number; preview: JobPreviewEvent } | null {
    return this.preview && this.previews > after ? { n: this.previews, preview: this.preview } : null;
  }

  /** Forgets the latest preview unless it is of `attempt` (null: the job is not running). */
  keepPreviewOf(attempt: number | null): void {
    if (this.preview && this.preview.attempt !== attempt) this.preview = null;
  }

  /** A stream that starts with `past`; it ends at once when `ended`, else stays open for live events. */
  open(past: JobEventRecord[], ended: boolean): Response {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    let text = ": connected\n\n";
    for (const e of past) text += sseFrame(e);
    if (!ended && this.preview) text += previewFrame(this.preview);
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
