/**
 * The per-key fixed rate-limit window (pure logic; keys/key-do.ts holds it and persists it).
 *
 * The window survives an eviction or restart of the key's object because its count is stored. To keep
 * the per-request cost low, storage holds a *reservation*: when the count passes the stored value, the
 * object stores `count + step - 1` (capped at the limit) and writes nothing for the next `step - 1`
 * requests. A fresh instance resumes from the stored reservation, so an eviction can only make the
 * window stricter (by fewer than `step` requests), never let more than `limit` through.
 */

export const WINDOW_MS = 60_000;

/** Largest share of a window an eviction may cost a key (requests reserved but not made). */
const RESERVATION_SHARE = 100;

export interface RateWindow {
  /** Unix ms of the first request of the window. */
  start: number;
  /** Requests allowed in this window. */
  count: number;
  /** Count the stored copy holds (>= count): what a fresh instance resumes from. */
  reserved: number;
}

/** What storage holds under `window`. */
export interface StoredWindow {
  start: number;
  count: number;
}

export interface Admission {
  window: RateWindow;
  allowed: boolean;
  /** The value to store before answering, or null when the stored reservation still covers it. */
  store: StoredWindow | null;
}

export const EMPTY_WINDOW: RateWindow = { start: 0, count: 0, reserved: 0 };

/** Requests per storage write: 1 for limits up to 2 x RESERVATION_SHARE, then limit / RESERVATION_SHARE. */
export function reservationStep(limit: number): number {
  return Math.max(1, Math.floor(limit / RESERVATION_SHARE));
}

export function resumeWindow(stored: StoredWindow | undefined): RateWindow {
  return stored ? { start: stored.start, count: stored.count, reserved: stored.count } : EMPTY_WINDOW;
}

/** Admits (or refuses) one request at `now` under `limit` requests per window. */
export function admit(current: RateWindow, now: number, limit: number, step: number): Admission {
  const window = now >= current.start + WINDOW_MS ? { start: now, count: 0, reserved: 0 } : { ...current };
  if (window.count >= limit) return { window, allowed: false, store: null };
  window.count++;
  if (window.count <= window.reserved) return { window, allowed: true, store: null };
  window.reserved = Math.min(limit, window.count + Math.max(1, step) - 1);
  return { window, allowed: true, store: { start: window.start, count: window.reserved } };
}
