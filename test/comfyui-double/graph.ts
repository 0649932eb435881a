/**
 * comfy_execution.graph (ExecutionList with ComfyUI's "ux friendly" pick: output nodes first, then nodes that feed
 * an output, then their inputs) and comfy_execution.caching's input signatures (class, IS_CHANGED, sorted inputs,
 * links replaced by ancestor positions), which decide what `execution_cached` reports.
 */
import { randomUUID } from "node:crypto";
import { canonicalJson } from "@comfy-edge/shared/capabilities/build";
import type { NodeClass } from "./nodes.ts";

export type Prompt = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

/** comfy_execution.graph_utils.is_link */
export function isLink(v: unknown): v is [string, number] {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "number";
}

export class ExecutionList {
  private readonly pending = new Map<string, true>();
  private readonly blockCount = new Map<string, number>();
  private readonly blocking = new Map<string, Map<string, Set<number>>>();
  private staged: string | undefined;

  private readonly prompt: Prompt;
  private readonly registry: Map<string, NodeClass>;
  private readonly isCached: (nodeId: string) => boolean;

  constructor(prompt: Prompt, registry: Map<string, NodeClass>, isCached: (nodeId: string) => boolean) {
    this.prompt = prompt;
    this.registry = registry;
    this.isCached = isCached;
  }

  addNode(nodeId: string): void {
    const stack = [nodeId];
    const links: Array<[string, number, string]> = [];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (this.pending.has(id)) continue;
      this.pending.set(id, true);
      this.blockCount.set(id, 0);
      this.blocking.set(id, new Map());
      for (const value of Object.values(this.prompt[id]?.inputs ?? {})) {
        if (!isLink(value)) continue;
        const [from, socket] = value;
        if (!this.isCached(from)) stack.push(from);
        links.push([from, socket, id]);
      }
    }
    for (const [from, socket, to] of links) this.addStrongLink(from, socket, to);
  }

  private addStrongLink(from: string, socket: number, to: string): void {
    if (this.isCached(from)) return;
    this.addNode(from);
    const blocked = this.blocking.get(from) as Map<string, Set<number>>;
    if (!blocked.has(to)) {
      blocked.set(to, new Set());
      this.blockCount.set(to, (this.blockCount.get(to) ?? 0) + 1);
    }
    blocked.get(to)?.add(socket);
  }

  isEmpty(): boolean {
    return this.pending.size === 0;
  }

  private isOutput(nodeId: string): boolean {
    const cls = this.registry.get(this.prompt[nodeId]?.class_type ?? "");
    return cls?.outputNode === true;
  }

  /** Next node to run; undefined when nothing is ready (a cycle: cannot happen after validation). */
  stage(): string | undefined {
    const ready = [...this.pending.keys()].filter((id) => this.blockCount.get(id) === 0);
    if (ready.length === 0) return undefined;
    const pick =
      ready.find((id) => this.isOutput(id)) ??
      ready.find((id) => [...(this.blocking.get(id)?.keys() ?? [])].some((b) => this.isOutput(b))) ??
      ready.find((id) =>
        [...(this.blocking.get(id)?.keys() ?? [])].some((b) =>
          [...(this.blocking.get(b)?.keys() ?? [])].some((b2) => this.isOutput(b2)),
        ),
      ) ??
      (ready[0] as string);
    this.staged = pick;
    return pick;
  }

  complete(): void {
    const id = this.staged as string;
    this.pending.delete(id);
    for (const blocked of this.blocking.get(id)?.keys() ?? []) {
      this.blockCount.set(blocked, (this.blockCount.get(blocked) ?? 1) - 1);
    }
    this.blocking.delete(id);
    this.staged = undefined;
  }
}

/** CacheKeySetInputSignature.get_node_signature, as a canonical string. */
export function nodeSignature(
  prompt: Prompt,
  nodeId: string,
  registry: Map<string, NodeClass>,
  isChanged: (nodeId: string) => unknown,
): string {
  const ancestors: string[] = [];
  const order = new Map<string, number>();
  const walk = (id: string): void => {
    const node = prompt[id];
    if (node === undefined) return;
    for (const key of Object.keys(node.inputs ?? {}).sort()) {
      const v = node.inputs[key];
      if (!isLink(v) || order.has(v[0])) continue;
      ancestors.push(v[0]);
      order.set(v[0], ancestors.length - 1);
      walk(v[0]);
    }
  };
  walk(nodeId);
  const immediate = (id: string): unknown[] => {
    const node = prompt[id];
    if (node === undefined) return [`NaN#${randomUUID()}`];
    const cls = registry.get(node.class_type);
    let changed = isChanged(id);
    if (typeof changed === "number" && Number.isNaN(changed)) changed = `NaN#${randomUUID()}`; // NaN != NaN
    const sig: unknown[] = [node.class_type, changed ?? false];
    const hidden = cls?.inputTypes().hidden ?? {};
    if (Object.values(hidden).includes("UNIQUE_ID")) sig.push(id);
    for (const key of Object.keys(node.inputs ?? {}).sort()) {
      const v = node.inputs[key];
      sig.push(isLink(v) ? [key, ["ANCESTOR", order.get(v[0]), v[1]]] : [key, v]);
    }
    return sig;
  };
  return canonicalJson([immediate(nodeId), ...ancestors.map(immediate)]);
}
