/**
 * An isolate's memo of Cache API lookups, kept per `env` object (a WeakMap keyed by it, as shared/config.ts
 * parses settings once per env: no other state; locally the fetch handler and every Durable Object of an
 * isolate see the same env object, and where they did not, the memo would only miss more). Each entry lives until `read_at + ttl`, where `read_at` is when the value was
 * read from D1 (or the pool's object): never longer than the Cache API entry it copies would serve, so the
 * staleness bound of the cached lookup (e.g. 30 s) holds. `forget` drops an entry in this isolate only;
 * other isolates see a change when their entry runs out. Bounded: the least recently stored go first.
 */

/** Response header carrying when a cached value was read from its source (ms since the epoch). */
export const READ_AT_HEADER = "x-comfy-edge-read-at";

/** `read_at` of a cached response; null when absent (an entry of an earlier version: not remembered). */
export function readAtOf(res: Response): number | null {
  const v = Number(res.headers.get(READ_AT_HEADER) ?? Number.NaN);
  return Number.isFinite(v) && v > 0 ? v : null;
}

export interface AgedMemo<V> {
  get(env: object, key: string): { value: V } | null;
  /** Remembers `value` until `readAt + ttlMs` (nothing when `readAt` is null or already past). */
  set(env: object, key: string, value: V, readAt: number | null): void;
  forget(env: object, key: string): void;
}

export function agedMemo<V>(ttlMs: number, maxEntries: number): AgedMemo<V> {
  const perEnv = new WeakMap<object, Map<string, { value: V; until: number }>>();
  return {
    get(env, key) {
      const memo = perEnv.get(env);
      const m = memo?.get(key);
      if (!m) return null;
      if (m.until > Date.now()) return { value: m.value };
      memo!.delete(key);
      return null;
    },
    set(env, key, value, readAt) {
      if (readAt === null) return;
      const until = Math.min(readAt, Date.now()) + ttlMs;
      if (until <= Date.now()) return;
      let memo = perEnv.get(env);
      if (!memo) {
        memo = new Map();
        perEnv.set(env, memo);
      }
      memo.delete(key);
      memo.set(key, { value, until });
      while (memo.size > maxEntries) memo.delete(memo.keys().next().value as string);
    },
    forget(env, key) {
      perEnv.get(env)?.delete(key);
    },
  };
}
