/**
 * Where a submitted job goes (docs/capabilities.md): a pool named by the client (or the tenant's default),
 * or a member of a pool group (`"pool": "group:<name>"`): nearest the request first (the tenant's region
 * affinity, else `request.cf` colo and continent), weight breaking ties, skipping members the tenant may not
 * use, whose checks refuse the workflow (node policy, URL models, capabilities), that have no live runner, or
 * whose wait estimate is above the group's `max_wait_s`. Each member gets the checks a plain pool gets.
 */
import type { DispatchGroup, DispatchNeeds, Workflow } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { groupTarget, type MemberState, orderMembers, pickMember } from "@comfy-edge/shared/pool-groups/choose";
import { poolCapabilityCheck } from "../../capabilities/submit-check.ts";
import { enforceNodePolicy, nodePolicyReader, policyLayers } from "../../jobs/node-policy.ts";
import { checkUrlModels } from "../../models/url-check.ts";
import type { TenantSnapshot } from "../../types.ts";
import { getPool, type PoolRecord, requirePoolAccess } from "../access.ts";
import { memberLoad } from "./load.ts";
import { getGroup, getTenantRegion } from "./store.ts";
import { withUrlModels } from "./url-model-needs.ts";

export interface PlaceRequest {
  /** The body's `pool`, else the tenant's default pool, else "local". */
  target: string;
  /** The client named the target (errors then name `pool` as the param). */
  explicit: boolean;
  tenant: TenantSnapshot;
  workflow: Workflow;
  /** `request.cf` (continent, colo). */
  cf: unknown;
}

export interface Placement {
  pool: PoolRecord;
  needs: DispatchNeeds | null;
  group: DispatchGroup | null;
}

function cfField(cf: unknown, key: "continent" | "colo"): string | null {
  if (typeof cf !== "object" || cf === null) return null;
  const v: unknown = Reflect.get(cf, key);
  return typeof v === "string" ? v : null;
}

/** A placer with its own in-isolate memos (node policy, capability unions); one per isolate. */
export function jobPlacer() {
  const readNodePolicy = nodePolicyReader();
  const checkCapabilities = poolCapabilityCheck();

  async function check(env: Env, pool: PoolRecord, req: PlaceRequest): Promise<DispatchNeeds | null> {
    enforceNodePolicy(req.workflow, policyLayers(readNodePolicy(env), pool.node_policy, req.tenant.node_policy));
    await checkUrlModels(env, pool.name, req.tenant.id, req.workflow);
    // Against what the pool's live runners can run (docs/capabilities.md).
    return withUrlModels(await checkCapabilities(env, pool.name, req.workflow), req.workflow);
  }

  async function inGroup(env: Env, name: string, req: PlaceRequest): Promise<Placement> {
    const param = req.explicit ? "pool" : null;
    const group = await getGroup(env, name);
    if (!group) {
      throw new ApiError(
        422,
        "unknown_pool",
        `No pool group named '${name.slice(0, 80)}'. GET /v1/pools lists your pools.`,
        {
          param,
        },
      );
    }
    const near = {
      continent: cfField(req.cf, "continent"),
      colo: cfField(req.cf, "colo"),
      affinity: await getTenantRegion(env, req.tenant.id),
    };
    const ordered = orderMembers(group.members, near);
    const states: MemberState[] = [];
    const passed = new Map<string, { pool: PoolRecord; needs: DispatchNeeds | null }>();
    const usable: DispatchGroup["members"] = [];
    let refusal: unknown = null;
    let chosen: MemberState | null = null;
    for (const m of ordered) {
      // Access rules apply to every member: one the tenant may not use is not part of the group for it.
      const pool = await getPool(env, m.pool);
      if (!pool || (pool.tenants !== null && !pool.tenants.includes(req.tenant.id))) continue;
      usable.push({ pool: m.pool, region: m.region });
      if (chosen) continue; // the rest only join the list a re-queued job may move along
      let needs: DispatchNeeds | null;
      try {
        needs = await check(env, pool, req);
      } catch (err) {
        if (!(err instanceof ApiError) || err.status >= 500) throw err;
        refusal ??= err;
        continue;
      }
      passed.set(m.pool, { pool, needs });
      const load = await memberLoad(env, m.pool);
      const state = { pool: m.pool, live: load.live, capable: true, wait_s: load.wait_s };
      states.push(state);
      const max = group.max_wait_s;
      if (state.live && (max === null || state.wait_s === null || state.wait_s <= max)) chosen = state;
    }
    if (usable.length === 0) {
      throw new ApiError(
        422,
        "unknown_pool",
        `Pool group '${name.slice(0, 80)}' has no pool this tenant may use. GET /v1/pools lists yours.`,
        { param },
      );
    }
    // All above the threshold: the smallest wait. No member with a live runner that can run it: the nearest
    // member whose checks passed (it waits there). No member passed: the nearest member's refusal.
    chosen ??= pickMember(states, group.max_wait_s) ?? states[0] ?? null;
    if (!chosen) throw refusal;
    const { pool, needs } = passed.get(chosen.pool)!;
    return { pool, needs, group: { name: group.name, members: usable, max_wait_s: group.max_wait_s } };
  }

  return async function place(env: Env, req: PlaceRequest): Promise<Placement> {
    const groupName = groupTarget(req.target);
    if (groupName !== null) return inGroup(env, groupName, req);
    const pool = await requirePoolAccess(env, req.target, req.tenant.id, req.explicit ? "pool" : null);
    return { pool, needs: await check(env, pool, req), group: null };
  };
}
