/**
 * Node-class policy (docs/node-policy.md): which ComfyUI node classes a workflow may use. Layers, most
 * specific first: the tenant's override, the pool's policy, the deployment's NODE_POLICY, the built-in
 * default (file readers other than LoadImage/LoadImageMask, writers and paid API nodes refused). The
 * first layer that names a class decides; within a layer an exact name beats a group, a group beats `*`,
 * and deny beats allow. Pure logic; the route gathers the layers.
 */

import { type NodeClassGroup, NodePolicy } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { COMFYUI_0_33_CLASSES } from "./node-policy-classes.ts";

/** File readers of widely used custom nodes (not in ComfyUI's own object_info): class -> file inputs. */
const CUSTOM_FILE_READERS: Record<string, string[]> = {
  VHS_LoadVideo: ["video"],
  VHS_LoadVideoPath: ["video"],
  VHS_LoadImages: ["directory"],
  VHS_LoadImagesPath: ["directory"],
  VHS_LoadAudio: ["audio_file"],
  VHS_LoadAudioUpload: ["audio"],
};

/** Class -> its inputs that name a file or folder on the GPU host. */
export const FILE_READER_INPUTS: ReadonlyMap<string, readonly string[]> = new Map(
  Object.entries({ ...COMFYUI_0_33_CLASSES.fileReaders, ...CUSTOM_FILE_READERS }),
);
const GROUP_MEMBERS: Record<NodeClassGroup, ReadonlySet<string>> = {
  file_readers: new Set(FILE_READER_INPUTS.keys()),
  writers: new Set(COMFYUI_0_33_CLASSES.writers),
  api_nodes: new Set(COMFYUI_0_33_CLASSES.apiNodes),
};

/** What the deployment refuses unless a policy allows it. */
export const DEFAULT_NODE_POLICY: NodePolicy = {
  allow: ["LoadImage", "LoadImageMask"],
  deny: ["group:file_readers", "group:writers", "group:api_nodes"],
};

export type PolicyLayerName = "tenant" | "pool" | "deployment" | "default";
export interface PolicyLayer {
  name: PolicyLayerName;
  policy: NodePolicy;
}

export function groupsOf(classType: string): NodeClassGroup[] {
  return (Object.keys(GROUP_MEMBERS) as NodeClassGroup[]).filter((g) => GROUP_MEMBERS[g].has(classType));
}

export interface Decision {
  allowed: boolean;
  /** The layer that decided, or null when none names the class (allowed). */
  layer: PolicyLayerName | null;
}

function decideIn(policy: NodePolicy, classType: string, groups: readonly string[]): boolean | null {
  const levels: Array<(entry: string) => boolean> = [
    (e) => e === classType,
    (e) => e.startsWith("group:") && groups.includes(e.slice(6)),
    (e) => e === "*",
  ];
  for (const matches of levels) {
    if (policy.deny.some(matches)) return false;
    if (policy.allow.some(matches)) return true;
  }
  return null;
}

export function decide(classType: string, layers: readonly PolicyLayer[]): Decision {
  const groups = groupsOf(classType);
  for (const layer of layers) {
    const allowed = decideIn(layer.policy, classType, groups);
    if (allowed !== null) return { allowed, layer: layer.name };
  }
  return { allowed: true, layer: null };
}

/** The layers for one submit, most specific first. */
export function policyLayers(
  deployment: NodePolicy,
  pool: NodePolicy | null | undefined,
  tenant: NodePolicy | null | undefined,
): PolicyLayer[] {
  const layers: PolicyLayer[] = [];
  if (tenant) layers.push({ name: "tenant", policy: tenant });
  if (pool) layers.push({ name: "pool", policy: pool });
  layers.push({ name: "deployment", policy: deployment }, { name: "default", policy: DEFAULT_NODE_POLICY });
  return layers;
}

const WHY: Record<NodeClassGroup, string> = {
  file_readers: "it reads files on the GPU host, which may hold other tenants' inputs and outputs",
  writers: "it writes files other than job outputs (models, LoRAs, latents or datasets) on the GPU host",
  api_nodes: "it is a paid partner API node that spends the operator's comfy.org account",
};
const BY_LAYER: Record<PolicyLayerName, string> = {
  tenant: "this tenant's node policy",
  pool: "the pool's node policy",
  deployment: "the deployment's NODE_POLICY",
  default: "default",
};

function refusal(nodeId: string, classType: string, layer: PolicyLayerName): ApiError {
  const group = groupsOf(classType)[0];
  const why = layer === "default" && group ? WHY[group] : `it is refused by ${BY_LAYER[layer]}`;
  return new ApiError(
    422,
    "node_not_allowed",
    `Node ${nodeId} uses node class '${classType.slice(0, 200)}', which is not allowed here: ${why}. ` +
      `An operator can allow it by adding "${classType.slice(0, 200)}" to "allow" in this tenant's or the pool's node_policy (admin API) or in the deployment's NODE_POLICY (docs/node-policy.md).`,
    { param: `workflow.${nodeId}.class_type` },
  );
}

/** 422 `node_not_allowed` for the first node (in id order) whose class the layers refuse. */
export function enforceNodePolicy(
  workflow: Record<string, { class_type: string }>,
  layers: readonly PolicyLayer[],
): void {
  const allowed = new Set<string>();
  for (const [id, node] of Object.entries(workflow)) {
    if (allowed.has(node.class_type)) continue;
    const decision = decide(node.class_type, layers);
    if (!decision.allowed) throw refusal(id, node.class_type, decision.layer ?? "default");
    allowed.add(node.class_type);
  }
}

export type NodePolicyResult = { ok: true; policy: NodePolicy } | { ok: false; reason: string };

/** NODE_POLICY: JSON `{"allow": [...], "deny": [...]}`; empty = no change to the default. */
export function parseNodePolicy(raw: string | undefined): NodePolicyResult {
  const text = raw?.trim() ?? "";
  if (text === "") return { ok: true, policy: { allow: [], deny: [] } };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `NODE_POLICY is not valid JSON (${err instanceof Error ? err.message : err})` };
  }
  const parsed = NodePolicy.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `NODE_POLICY ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}` };
  }
  return { ok: true, policy: parsed.data };
}

/**
 * Returns a reader that parses NODE_POLICY once per distinct value (a deployment has one). A broken
 * value is an operator error: logged once, and every submit answers 503 `node_policy_invalid` (fail closed).
 */
export function nodePolicyReader(): (env: { NODE_POLICY?: string }) => NodePolicy {
  let memoKey: string | undefined;
  let memo: NodePolicyResult | undefined;
  return (env) => {
    const key = env.NODE_POLICY ?? "";
    if (key !== memoKey || memo === undefined) {
      memo = parseNodePolicy(key);
      memoKey = key;
      if (!memo.ok) console.error(JSON.stringify({ level: "error", msg: "NODE_POLICY invalid", reason: memo.reason }));
    }
    if (!memo.ok) {
      throw new ApiError(
        503,
        "node_policy_invalid",
        "Jobs are unavailable: the deployment's NODE_POLICY is misconfigured and the operator has to fix it.",
      );
    }
    return memo.policy;
  };
}

/** A `node_policy` D1 column (JSON or NULL) -> the policy; a value that does not parse counts as none. */
export function nodePolicyFromColumn(value: unknown): NodePolicy | null {
  if (typeof value !== "string") return null;
  try {
    const parsed = NodePolicy.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function nodePolicyToColumn(policy: NodePolicy | null | undefined): string | null {
  return policy ? JSON.stringify({ allow: policy.allow, deny: policy.deny }) : null;
}
