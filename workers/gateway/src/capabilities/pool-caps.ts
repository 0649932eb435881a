/**
 * The pool's capability union on the submit path, without a Durable Object call when this data centre
 * has it: the Cache API holds a pointer `pool -> union digest` for 30 s and the union by digest for an
 * hour; each isolate keeps the last few unions' lookup indexes by digest (a digest names one union, so
 * they never go stale). A miss asks the pool's object once and fills both. A runner that joins or leaves
 * is seen by submits within 30 s (STORAGE.md).
 */
import { poolStub } from "../pools/access.ts";
import { CapIndex, type PoolCapabilities } from "./union.ts";

const POINTER_TTL_S = 30;
const UNION_TTL_S = 3600;
const MEMO_ENTRIES = 8;

export interface PoolCapIndex {
  digest: string;
  index: CapIndex;
}

function url(pool: string, digest?: string): Request {
  const base = `https://capabilities.cache.comfy-edge.internal/${encodeURIComponent(pool)}`;
  return new Request(digest ? `${base}/${digest}` : base);
}

function defaultCache(): Cache {
  return (caches as unknown as { default: Cache }).default;
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
    const pointer = JSON.stringify({ digest: caps?.digest ?? null });
    const headers = (ttl: number) => ({ "cache-control": `max-age=${ttl}`, "content-type": "application/json" });
    await cache.put(url(pool), new Response(pointer, { headers: headers(POINTER_TTL_S) }));
    if (!caps) return null;
    await cache.put(url(pool, caps.digest), new Response(JSON.stringify(caps), { headers: headers(UNION_TTL_S) }));
    const index = new CapIndex(caps);
    remember(caps.digest, index);
    return { digest: caps.digest, index };
  }

  /** The pool's union as a lookup index; null when no live runner of the pool reports capabilities. */
  return async function read(env: Env, pool: string): Promise<PoolCapIndex | null> {
    const cache = defaultCache();
    const hit = await cache.match(url(pool));
    if (!hit) return fromObject(env, pool, cache);
    const { digest } = (await hit.json()) as { digest: string | null };
    if (!digest) return null;
    const known = memo.get(digest);
    if (known) return { digest, index: known };
    const union = await cache.match(url(pool, digest));
    if (!union) return fromObject(env, pool, cache);
    const index = new CapIndex((await union.json()) as PoolCapabilities);
    remember(digest, index);
    return { digest, index };
  };
}

/** Drops this data centre's pointer (tests and the admin API after a change). */
export async function forgetCapabilities(pool: string): Promise<void> {
  await defaultCache().delete(url(pool));
}
