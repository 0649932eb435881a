/**
 * The output cache's index and hits (effects; the rules are in output-cache.ts): KV `LLM_CACHE` key
 * `job-cache/<tenant>/<sha256>` -> the job that ran the graph, and the copy of its outputs for a hit.
 */
import type { StoredOutput } from "@comfy-edge/shared/job-view";
import { jobStub } from "../jobs/public.ts";
import { OUTPUT_CACHE_TTL_S, usable } from "./output-cache.ts";

function key(tenantId: string, hash: string): string {
  return `job-cache/${tenantId}/${hash}`;
}

async function cachedJobId(kv: KVNamespace, tenantId: string, hash: string): Promise<string | null> {
  return kv.get(key(tenantId, hash));
}

export async function rememberJob(kv: KVNamespace, tenantId: string, hash: string, jobId: string): Promise<void> {
  await kv.put(key(tenantId, hash), jobId, { expirationTtl: OUTPUT_CACHE_TTL_S });
}

/**
 * The outputs of the job the cache names for `hash`, copied under `jobId`'s prefix (a request-unique folder,
 * so a refused create can remove its copies without touching another job's), or null on a miss.
 */
export async function cachedOutputs(
  env: Env,
  tenantId: string,
  hash: string,
  jobId: string,
): Promise<{ from: string; outputs: StoredOutput[]; written: string[] } | null> {
  const from = await cachedJobId(env.LLM_CACHE, tenantId, hash);
  if (!from || from === jobId) return null;
  const view = (await jobStub(env, from)?.get(tenantId)) ?? null;
  if (!usable(view, Date.now())) return null;
  // Attempt 0 (the job never ran); a tag per request, so a refused create removes only its own copies.
  const folder = `jobs/${jobId}/a0/cache-${crypto.randomUUID().slice(0, 8)}`;
  const written: string[] = [];
  try {
    const outputs = await Promise.all(
      view.outputs.map(async (o) => {
        const object = await env.FILES.get(o.key);
        if (!object) throw new Error(`output ${o.index} of ${from} is gone`);
        const key = `${folder}-${o.index}-${o.filename.replace(/[^\w.-]/g, "_")}`;
        written.push(key);
        await env.FILES.put(key, object.body, { httpMetadata: object.httpMetadata });
        return { ...o, key };
      }),
    );
    return { from, outputs, written };
  } catch {
    if (written.length > 0) await env.FILES.delete(written);
    return null;
  }
}
