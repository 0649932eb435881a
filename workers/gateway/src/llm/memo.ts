/**
 * A small in-isolate copy of recently read or written cache entries, in front of KV: a hot answer is
 * served without a KV read. Entries live at most MAX_AGE_MS (and never past their KV expiry), which
 * stays within KV's own consistency (a change can take 60 s or more to reach other locations). Bounded
 * by total size (least recently used out first). One per isolate, created by the chat route factory;
 * `Cache-Control: no-cache` skips it like it skips KV.
 */
import type { CachedAnswer } from "./cache.ts";

export const MAX_AGE_MS = 30_000;
const MAX_BYTES = 8 * 1024 * 1024;
const MAX_ENTRY_BYTES = 256 * 1024;

interface Slot {
  answer: CachedAnswer;
  expiresAt: number;
  bytes: number;
}

export class AnswerMemo {
  private readonly slots = new Map<string, Slot>();
  private bytes = 0;

  get(key: string, now = Date.now()): CachedAnswer | null {
    const slot = this.slots.get(key);
    if (!slot) return null;
    this.slots.delete(key);
    if (slot.expiresAt <= now) {
      this.bytes -= slot.bytes;
      return null;
    }
    this.slots.set(key, slot); // most recently used last
    return slot.answer;
  }

  /** Keeps `answer` until MAX_AGE_MS from now, or its KV expiry (`meta.e`) if sooner. */
  set(key: string, answer: CachedAnswer, now = Date.now()): void {
    const bytes = answer.text.length * 2 + key.length * 2 + 64;
    this.delete(key);
    if (bytes > MAX_ENTRY_BYTES) return;
    const expiresAt = Math.min(now + MAX_AGE_MS, answer.meta.e > 0 ? answer.meta.e : Number.POSITIVE_INFINITY);
    this.slots.set(key, { answer, expiresAt, bytes });
    this.bytes += bytes;
    for (const [oldest, slot] of this.slots) {
      if (this.bytes <= MAX_BYTES) break;
      this.slots.delete(oldest);
      this.bytes -= slot.bytes;
    }
  }

  delete(key: string): void {
    const slot = this.slots.get(key);
    if (!slot) return;
    this.slots.delete(key);
    this.bytes -= slot.bytes;
  }

  get size(): number {
    return this.slots.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }
}
