/**
 * The LLM answer cache in Workers KV. An entry is the answer as a `chat.completion` JSON text (streamed
 * answers are rebuilt into one), with its token usage in the KV metadata so a hit needs no parse.
 * Request headers: `Cache-Control: no-cache` skips the read, `no-store` skips the write,
 * `x-cache-ttl: <seconds>` (>= 60, KV's minimum) overrides the TTL. Key layout: STORAGE.md.
 */

import { ApiError } from "@comfy-edge/shared/errors";
import { log } from "@comfy-edge/shared/log";
import { z } from "zod";
import type { TokenUsage } from "./completion.ts";
import { MAX_CACHE_TTL_S, MIN_CACHE_TTL_S } from "./config.ts";

export interface CacheDirectives {
  read: boolean;
  write: boolean;
  ttlS: number;
}

/** KV metadata of an entry (kept short: KV allows 1024 bytes). */
export const EntryMeta = z.object({
  /** Unix ms when stored. */
  t: z.number(),
  /** Unix ms when it expires (KV does not say on reads). */
  e: z.number(),
  /** Prompt and completion tokens of the original answer. */
  p: z.number(),
  c: z.number(),
});
export type EntryMeta = z.infer<typeof EntryMeta>;

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

export async function readEntry(kv: KVNamespace, key: string): Promise<CachedAnswer | null> {
  const { value, metadata } = await kv.getWithMetadata(key, "text");
  if (value === null) return null;
  // Metadata of another shape (an older entry): served with unknown age and usage.
  const meta = EntryMeta.safeParse(metadata);
  return { text: value, meta: meta.success ? meta.data : { t: 0, e: 0, p: 0, c: 0 } };
}

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
