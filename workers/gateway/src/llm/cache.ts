/**
 * The LLM answer cache in Workers KV. An entry is the answer as a `chat.completion` JSON text (streamed
 * answers are rebuilt into one), with its token usage in the KV metadata so a hit needs no parse.
 * Request headers: `Cache-Control: no-cache` skips the read, `no-store` skips the write,
 * `x-cache-ttl: <seconds>` (>= 60, KV's minimum) overrides the TTL. Key layout: STORAGE.md.
 */
import { ApiError } from "../../../shared/errors.ts";
import { log } from "../../../shared/log.ts";
import type { TokenUsage } from "./completion.ts";
import { MAX_CACHE_TTL_S, MIN_CACHE_TTL_S } from "./config.ts";

export interface CacheDirectives {
  read: boolean;
  write: boolean;
  ttlS: number;
}

/** KV metadata of an entry (kept short: KV allows 1024 bytes). */
export interface EntryMeta {
  /** Unix ms when stored. */
  t: number;
  /** Unix ms when it expires (KV does not say on reads). */
  e: number;
  /** Prompt and completion tokens of the original answer. */
  p: number;
  c: number;
}

export interface CachedAnswer {
  text: string;
  meta: EntryMeta;
}

export function cacheDirectives(
  cacheControl: string | undefined,
  ttlHeader: string | undefined,
  defaultTtlS: number,
): CacheDirectives {
  let read = true;
  let write = true;
  if (cacheControl) {
    for (const directive of cacheControl.split(",")) {
      const name = directive.split("=")[0]!.trim().toLowerCase();
      if (name === "no-cache") read = false;
      else if (name === "no-store") write = false;
    }
  }
  let ttlS = defaultTtlS;
  if (ttlHeader !== undefined) {
    const trimmed = ttlHeader.trim();
    const n = Number(trimmed);
    if (!/^\d+$/.test(trimmed) || n < MIN_CACHE_TTL_S || n > MAX_CACHE_TTL_S) {
      throw new ApiError(
        400,
        "invalid_request",
        `x-cache-ttl must be a whole number of seconds from ${MIN_CACHE_TTL_S} to ${MAX_CACHE_TTL_S}.`,
        { param: "x-cache-ttl" },
      );
    }
    ttlS = n;
  }
  return { read, write, ttlS };
}

function isMeta(value: unknown): value is EntryMeta {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return typeof m.t === "number" && typeof m.e === "number" && typeof m.p === "number" && typeof m.c === "number";
}

export async function readEntry(kv: KVNamespace, key: string): Promise<CachedAnswer | null> {
  const { value, metadata } = await kv.getWithMetadata<EntryMeta>(key, "text");
  if (value === null) return null;
  return { text: value, meta: isMeta(metadata) ? metadata : { t: 0, e: 0, p: 0, c: 0 } };
}

/** KV allows one write per key per second; losing that race to an identical answer is not an error. */
/** KV refused a second write to the same key within a second (429): another request stored the answer. */
export function isWriteRace(err: unknown): boolean {
  return err instanceof Error && /\b429\b|too many requests/i.test(err.message);
}

/** A new entry for `text`, expiring `ttlS` from now. */
export function newEntry(text: string, usage: TokenUsage | null, ttlS: number, now = Date.now()): CachedAnswer {
  return {
    text,
    meta: { t: now, e: now + ttlS * 1000, p: usage?.promptTokens ?? 0, c: usage?.completionTokens ?? 0 },
  };
}

/** Writes an entry to KV (its TTL from `meta.e`); a lost same-second race to an identical answer is fine. */
export async function putEntry(kv: KVNamespace, key: string, entry: CachedAnswer, requestId: string): Promise<void> {
  const ttlS = Math.max(60, Math.round((entry.meta.e - entry.meta.t) / 1000));
  try {
    await kv.put(key, entry.text, { expirationTtl: ttlS, metadata: entry.meta });
  } catch (err) {
    if (!isWriteRace(err)) throw err;
    log("info", { request_id: requestId }, "llm cache write skipped (concurrent write)");
  }
}

export async function writeEntry(
  kv: KVNamespace,
  key: string,
  text: string,
  usage: TokenUsage | null,
  ttlS: number,
  requestId: string,
): Promise<CachedAnswer> {
  const entry = newEntry(text, usage, ttlS);
  await putEntry(kv, key, entry, requestId);
  return entry;
}
