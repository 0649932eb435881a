/**
 * A pool group member's load on the submit path: live runners and the wait estimate of a job queued now,
 * from the pool's object, cached with the Cache API for a few seconds per data centre, so a burst of
 * submits to a group costs at most one pool-object call per member per LOAD_TTL_S.
 */
import { z } from "zod";
import { poolMetricsAll } from "../shards.ts";

const LOAD_TTL_S = 5;

const Load = z.object({ live: z.boolean(), wait_s: z.number().nullable() });
export type MemberLoad = z.infer<typeof Load>;

function url(pool: string): Request {
  return new Request(`https://load.cache.comfy-edge.internal/${encodeURIComponent(pool)}`);
}

export async function memberLoad(env: Env, pool: string): Promise<MemberLoad> {
  const cache = caches.default;
  const hit = await cache.match(url(pool));
  if (hit) {
    const parsed = Load.safeParse(await hit.json().catch(() => null));
    if (parsed.success) return parsed.data;
  }
  const m = await poolMetricsAll(env, pool);
  // A runner waiting on a long poll is live even when its poll began longer than RUNNER_LIVE_S ago.
  const load: MemberLoad = { live: m.live_runners > 0 || m.waiting_runners > 0, wait_s: m.estimated_wait_s };
  await cache.put(
    url(pool),
    new Response(JSON.stringify(load), { headers: { "cache-control": `max-age=${LOAD_TTL_S}` } }),
  );
  return load;
}
