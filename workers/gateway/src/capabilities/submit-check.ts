/**
 * Submit-path checks against what the pool can run (docs/capabilities.md): the workflow against the union
 * of the live runners' capability reports (no Durable Object call while this data centre's cache holds
 * it), and, when the client sets `max_wait_s`, admission against the pool's estimated queue wait.
 */
import type { DispatchNeeds, Workflow } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { poolMetricsAll } from "../pools/shards.ts";
import { checkAgainstPool } from "./check.ts";
import { capabilityReader } from "./pool-caps.ts";

/** Retry-After when the pool has no live runner at all. */
const NO_RUNNER_RETRY_S = 30;
/** Refusals a runner's newer report may lift (a model file just downloaded, a node class just installed). */
const RECHECK = new Set(["model_not_available", "unknown_node_class"]);

/**
 * A checker with its own in-isolate memo. It answers what the job needs from a runner, or null when no
 * live runner of the pool reports capabilities (then the workflow is checked as before capabilities). A
 * missing model file or node class is looked up again in the pool's object before the submit is refused.
 */
export function poolCapabilityCheck() {
  const read = capabilityReader();
  return async (env: Env, pool: string, workflow: Workflow): Promise<DispatchNeeds | null> => {
    const caps = await read(env, pool);
    if (!caps) return null;
    try {
      return checkAgainstPool(workflow, caps.index);
    } catch (err) {
      if (!(err instanceof ApiError) || !RECHECK.has(err.code)) throw err;
      // The cached union may predate a runner's new report (its pointer lives 30 s): before refusing, ask
      // the pool's object once. Only refused submits pay for it.
      const fresh = await read(env, pool, { fresh: true });
      if (!fresh) return null;
      if (fresh.digest === caps.digest) throw err;
      return checkAgainstPool(workflow, fresh.index);
    }
  };
}

/** 503 pool_saturated unless a job submitted now is estimated to start within `maxWaitS`. */
export async function admit(env: Env, pool: string, maxWaitS: number): Promise<void> {
  const m = await poolMetricsAll(env, pool);
  const wait = m.estimated_wait_s;
  if (wait !== null && wait <= maxWaitS) return;
  const retry = wait === null ? NO_RUNNER_RETRY_S : Math.min(3600, Math.max(1, Math.ceil(wait - maxWaitS)));
  throw new ApiError(
    503,
    "pool_saturated",
    wait === null
      ? `Pool '${pool}' has no live runner, so no job can be promised a start within max_wait_s = ${maxWaitS} s. Retry later.`
      : `Pool '${pool}' estimates a wait of ${Math.ceil(wait)} s (${m.queued} queued, ${m.running} running on ${m.slots} slots), more than max_wait_s = ${maxWaitS} s. Retry after ${retry} s, or raise max_wait_s.`,
    {
      param: "max_wait_s",
      headers: { "retry-after": String(retry) },
      details: { estimated_wait_s: wait },
    },
  );
}
