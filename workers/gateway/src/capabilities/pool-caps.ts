/**
 * The pool's capability union on the submit path, without a Durable Object call when this data centre
 * has it: the Cache API holds a pointer `pool -> union digest` for 30 s and the union by digest for an
 * hour; each isolate keeps the last few unions' lookup indexes by digest (a digest names one union, so
 * they never go stale), and remembers pointers until 30 s after the object answered them (so a submit pays
 * no Cache API read; shared/pool-shards/memo.ts). A miss asks the pool's object once and fills both. A
 * runner that joins or leaves is seen by submits within 30 s (STORAGE.md); a submit the cached union would refuse for a missing model
 * file or node class asks the object first (submit-check.ts), so a file a runner just reported counts at once.
 */

import type { NodeClassCapability } from "@comfy-edge/shared/contract";
import { agedMemo, READ_AT_HEADER, readAtOf } from "@comfy-edge/shared/pool-shards/memo";
import { z } from "zod";
import { poolStub } from "../pools/access.ts";
import { CapIndex } from "./union.ts";

const POINTER_TTL_S = 30;
const UNION_TTL_S = 3600;
const MEMO_ENTRIES = 8;
/** Pools an isolate remembers the pointer of at most. */
const POINTER_MEMO_ENTRIES = 1000;

/** The isolate's pointers `pool -> digest` (null: no reporting runner), per env, until 30 s after they were read. */
const pointers = agedMemo<string | null>(POINTER_TTL_S * 1000, POINTER_MEMO_ENTRIES);

const Pointer = z.object({
  digest: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
});
/**
 * The cached union, checked for its shape at the top only: it is the pool object's own answer cached by
 * this worker under a digest, and a full parse of 886 classes would cost more than the check it serves.
 */
const CachedUnion = z.looseObject({
  digest: z.string(),
  node_classes: z.record(
    z.string(),
    z.custom<NodeClassCapability>((v) => typeof (v as { inputs?: unknown } | null)?.inputs === "object"),
  ),
  models: z.record(z.string(), z.array(z.string())),
});

export interface PoolCapIndex {
  digest: string;
  index: CapIndex;
}

function url(pool: string, digest?: string): Request {
  const base = `https://capabilities.cache.comfy-edge.internal/${encodeURIComponent(pool)}`;
  return new Request(digest ? `${base}/${digest}` : base);
}

/** A reader with its own in-isolate memo (create one per isolate, e.g. at module load of the route). */
export function capabilityReader() {
  const memo = new Map<string, CapIndex>();
  const remember = (digest: string, index: CapIndex) => {
    memo.delete(digest);
    memo.set(digest, index);
    while (memo.size > MEMO_ENTRIES) memo.delete(memo.keys().next().value as string);
  };

  async function fromObject(env: Env, pool: string, cache: Cache): Promise<PoolCapIndex | null> {
    const all = await poolStub(env, pool).capabilities();
    // A live runner without a report might run anything: check nothing until it reports or leaves.
    const caps = all && all.unreported_runners === 0 ? all : null;
    const digest = caps?.digest ?? null;
    const readAt = Date.now();
    const headers = (ttl: number) => ({ "cache-control": `max-age=${ttl}`, "content-type": "application/json" });
    const pointerHeaders = { ...headers(POINTER_TTL_S), [READ_AT_HEADER]: String(readAt) };
    await cache.put(url(pool), new Response(JSON.stringify({ digest }), { headers: pointerHeaders }));
    pointers.set(env, pool, digest, readAt);
    if (!caps) return null;
    await cache.put(url(pool, caps.digest), new Response(JSON.stringify(caps), { headers: headers(UNION_TTL_S) }));
    const index = new CapIndex(caps);
    remember(caps.digest, index);
    return { digest: caps.digest, index };
  }

  /**
   * The pool's union as a lookup index; null when no live runner of the pool reports capabilities. `fresh`:
   * ask the pool's object (and refresh this data centre's pointer), e.g. before refusing a submit.
   */
  return async function read(env: Env, pool: string, options: { fresh?: boolean } = {}): Promise<PoolCapIndex | null> {
    const cache = caches.default;
    if (options.fresh) return fromObject(env, pool, cache);
    const digest = (await pointerOf(env, pool, cache))?.digest;
    if (digest === undefined) return fromObject(env, pool, cache);
    if (!digest) return null;
    const known = memo.get(digest);
    if (known) return { digest, index: known };
    const union = await cache.match(url(pool, digest));
    if (!union) return fromObject(env, pool, cache);
    const parsed = CachedUnion.safeParse(await union.json().catch(() => null));
    if (!parsed.success || parsed.data.digest !== digest) return fromObject(env, pool, cache);
    const index = new CapIndex(parsed.data);
    remember(digest, index);
    return { digest, index };
  };
}

/** The pool's pointer from this isolate's memo, else this data centre's cache (undefined: neither holds it). */
async function pointerOf(env: Env, pool: string, cache: Cache): Promise<{ digest: string | null } | undefined> {
  const known = pointers.get(env, pool);
  if (known) return { digest: known.value };
  const hit = await cache.match(url(pool));
  if (!hit) return undefined;
  const pointer = Pointer.safeParse(await hit.json().catch(() => null));
  if (!pointer.success) return undefined;
  pointers.set(env, pool, pointer.data.digest, readAtOf(hit));
  return pointer.data;
}

/** Drops this data centre's pointer and this isolate's memo of it (tests and the admin API after a change). */
export async function forgetCapabilities(env: Env, pool: string): Promise<void> {
  pointers.forget(env, pool);
  await caches.default.delete(url(pool));
}
