/**
 * Output cache for deterministic graphs (issue 15.6), for every job (template run or raw submit): a job
 * whose graph is deterministic and whose canonical form matches a succeeded job of the same tenant within
 * the TTL is answered with that job's outputs at once (`x-cache: HIT`, `cached_from` on the job), no GPU.
 *
 * Deterministic: every seed (`seed`, `noise_seed`: in ComfyUI 0.33 the only inputs with a
 * `control_after_generate`) a fixed number (not -1), and no input fetched from outside the graph (an http(s) URL or a `file:<id>` upload may change;
 * `data:` images are part of the graph). The canonical form is the graph without `_meta`, keys sorted,
 * with the pool and the output options; its SHA-256 names the entry. Index: KV `LLM_CACHE` key
 * `job-cache/<tenant>/<sha256>` -> the job id that ran it, written at submit with the TTL (STORAGE.md);
 * a lookup trusts it only if that job (read from its own object, same tenant) has succeeded within the TTL.
 * Never across tenants: the tenant is in the key and the job object checks it again.
 */
import { isLink, type Workflow } from "@comfy-edge/shared/contract";
import { sha256Hex } from "@comfy-edge/shared/crypto";
import type { JobView } from "@comfy-edge/shared/job-view";

export const OUTPUT_CACHE_TTL_S = 24 * 3600;
const SEED_INPUTS = new Set(["seed", "noise_seed"]);
const EXTERNAL = /^(https?:\/\/|file:)/i;

export function isDeterministic(workflow: Workflow): boolean {
  for (const node of Object.values(workflow)) {
    for (const [name, value] of Object.entries(node.inputs)) {
      if (isLink(value)) continue;
      if (SEED_INPUTS.has(name) && (typeof value !== "number" || value < 0)) return false;
      if (typeof value === "string" && EXTERNAL.test(value.trim())) return false;
    }
  }
  return true;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** The cache entry's name for a deterministic graph (graph without `_meta`, pool, output options). */
export async function cacheHash(workflow: Workflow, pool: string, output: unknown): Promise<string> {
  const graph = Object.fromEntries(
    Object.entries(workflow).map(([id, n]) => [id, { class_type: n.class_type, inputs: n.inputs }]),
  );
  return sha256Hex(JSON.stringify(canonical({ v: 1, pool, output: output ?? null, graph })));
}

/** A job the cache may answer with: succeeded within the TTL, with outputs. */
export function usable(view: JobView | null, now: number): view is JobView {
  return (
    view !== null &&
    view.status === "succeeded" &&
    view.outputs.length > 0 &&
    view.completed_at !== null &&
    now - view.completed_at < OUTPUT_CACHE_TTL_S * 1000
  );
}
