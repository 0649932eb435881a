/**
 * Typed inputs of a template, detected from an API-format graph with zero annotation (pure).
 *
 * Named inputs where the graph has one of each: `prompt` / `negative_prompt` (a text encoder's `text`,
 * by which sampler input - positive or negative - its conditioning reaches, through reroutes, guidance,
 * zero-out and ControlNet nodes), `seed`, `steps`, `cfg`, `sampler_name`, `scheduler`, `denoise`,
 * `width`, `height`, `batch_size`, `image`, `guidance`, `checkpoint`, `lora`, `lora_strength`,
 * `lora_clip_strength`. Several nodes with the same role share one input when they hold the same value
 * (the prompt of a base and a refiner), else each gets the node id as suffix (`seed_10`, `lora_12`).
 * Every other widget input is reachable as `"<node>.<input>"` (`"6.text"`). Types, ranges, steps and
 * enums come from the class's input spec; defaults from the graph.
 */
import type { Workflow } from "@comfy-edge/shared/contract";
import { isLink } from "@comfy-edge/shared/contract";
import type { InputSpec, SpecTable } from "./specs.ts";

export type InputKind = "int" | "float" | "string" | "boolean" | "enum" | "file" | "image";
export type InputValue = string | number | boolean;

export interface TemplateInput {
  name: string;
  /** The graph inputs it sets, as `node.input`. */
  from: string[];
  kind: InputKind;
  default: InputValue;
  min?: number;
  max?: number;
  step?: number;
  options?: string[];
  multiline?: boolean;
  /** A seed: -1 lets the runner choose one per run. */
  seed?: boolean;
  description?: string;
  hidden?: boolean;
}

/** A literal widget value of the graph. */
export interface Slot {
  node: string;
  input: string;
  value: InputValue;
  spec: InputSpec | null;
  kind: InputKind;
}

/** Roles that never share one input even when their values agree (two images are two images). */
const NEVER_SHARED = new Set(["image", "checkpoint", "lora", "lora_strength", "lora_clip_strength"]);
const SAMPLING = new Set(["steps", "cfg", "sampler_name", "scheduler", "denoise"]);

function kindOf(value: InputValue, spec: InputSpec | null): InputKind {
  if (spec && spec.kind !== "link") return spec.kind === "file" && spec.upload ? "image" : spec.kind;
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  return "string";
}

/** Nodes ComfyUI would run: output nodes and what they depend on (all nodes if no output node is known). */
export function runNodes(workflow: Workflow, specs: SpecTable): Set<string> {
  const ids = Object.keys(workflow);
  const stack = ids.filter((id) => specs[workflow[id]!.class_type]?.output_node);
  if (stack.length === 0) return new Set(ids);
  const seen = new Set(stack);
  while (stack.length > 0) {
    for (const value of Object.values(workflow[stack.pop()!]!.inputs)) {
      if (isLink(value) && value[0] in workflow && !seen.has(value[0])) {
        seen.add(value[0]);
        stack.push(value[0]);
      }
    }
  }
  return seen;
}

/** Every literal widget value of the nodes ComfyUI would run, in node order. */
export function literalSlots(workflow: Workflow, specs: SpecTable): Slot[] {
  const slots: Slot[] = [];
  const run = runNodes(workflow, specs);
  for (const [node, n] of Object.entries(workflow)) {
    if (!run.has(node)) continue;
    const classSpec = specs[n.class_type];
    for (const [input, value] of Object.entries(n.inputs)) {
      if (isLink(value) || !(typeof value === "string" || typeof value === "number" || typeof value === "boolean"))
        continue;
      const spec = classSpec?.inputs.find((i) => i.name === input) ?? null;
      if (spec?.kind === "link") continue;
      slots.push({ node, input, value, spec, kind: kindOf(value, spec) });
    }
  }
  return slots;
}

/** Which sampler input a conditioning node's output reaches: positive wins over negative. */
function polarity(workflow: Workflow, specs: SpecTable, start: string): "positive" | "negative" | null {
  const consumers = new Map<string, Array<{ node: string; input: string }>>();
  for (const [id, n] of Object.entries(workflow)) {
    for (const [input, value] of Object.entries(n.inputs)) {
      if (!isLink(value)) continue;
      const list = consumers.get(value[0]) ?? [];
      list.push({ node: id, input });
      consumers.set(value[0], list);
    }
  }
  let negative = false;
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length > 0) {
    const id = queue.shift()!;
    for (const edge of consumers.get(id) ?? []) {
      if (edge.input === "positive") return "positive";
      if (edge.input === "negative") {
        negative = true;
        continue;
      }
      const consumer = workflow[edge.node]!;
      const outputs = specs[consumer.class_type]?.outputs;
      // A guider or sampler taking one conditioning (BasicGuider, SamplerCustom without CFG) takes the prompt.
      if (edge.input === "conditioning" && outputs && !outputs.includes("CONDITIONING")) return "positive";
      if (!seen.has(edge.node)) {
        seen.add(edge.node);
        queue.push(edge.node);
      }
    }
  }
  return negative ? "negative" : null;
}

function roleOf(workflow: Workflow, specs: SpecTable, slot: Slot): string | null {
  const cls = workflow[slot.node]!.class_type;
  const { input, kind } = slot;
  if (input === "text" && kind === "string" && specs[cls]?.outputs.includes("CONDITIONING")) {
    const p = polarity(workflow, specs, slot.node);
    return p === "positive" ? "prompt" : p === "negative" ? "negative_prompt" : null;
  }
  if ((input === "seed" || input === "noise_seed") && kind === "int") return "seed";
  if (SAMPLING.has(input) && /Sampler|Scheduler|Guider/.test(cls)) return input;
  if ((input === "width" || input === "height" || input === "batch_size") && /^Empty.*Latent/.test(cls)) return input;
  if (kind === "image") return "image";
  if (input === "guidance" && cls === "FluxGuidance") return "guidance";
  if (input === "ckpt_name" && /^CheckpointLoader/.test(cls)) return "checkpoint";
  if (/Lora/.test(cls)) {
    if (input === "lora_name") return "lora";
    if (input === "strength_model") return "lora_strength";
    if (input === "strength_clip") return "lora_clip_strength";
  }
  return null;
}

/** An input over `slots` (all of one kind; the first gives the spec and the default). */
export function inputOver(name: string, slots: Slot[], description?: string): TemplateInput {
  const first = slots[0]!;
  const spec = first.spec;
  const input: TemplateInput = {
    name,
    from: slots.map((s) => `${s.node}.${s.input}`),
    kind: first.kind,
    default: first.value,
  };
  if (spec?.min !== undefined) input.min = spec.min;
  if (spec?.max !== undefined) input.max = spec.max;
  if (spec?.step !== undefined && (first.kind === "int" || first.kind === "float")) input.step = spec.step;
  if (first.kind === "enum" && spec?.options) input.options = spec.options;
  if (spec?.multiline) input.multiline = true;
  if (spec?.control) input.seed = true;
  if (description) input.description = description;
  return input;
}

function describe(workflow: Workflow, slots: Slot[]): string {
  return slots
    .map((s) => {
      const n = workflow[s.node]!;
      const title = (n._meta as { title?: unknown } | undefined)?.title;
      return `${typeof title === "string" ? title : n.class_type} (node ${s.node}) ${s.input}`;
    })
    .join(", ");
}

/**
 * The detected inputs: named ones first, then every other widget as `node.input`. `controls` (from the
 * UI format) marks seeds the author had on "randomize": their default becomes -1, a new seed per run.
 */
export function detectInputs(
  workflow: Workflow,
  specs: SpecTable,
  controls: Record<string, string> = {},
): TemplateInput[] {
  const slots = literalSlots(workflow, specs);
  const byRole = new Map<string, Slot[]>();
  const named = new Set<Slot>();
  for (const slot of slots) {
    const role = roleOf(workflow, specs, slot);
    if (!role) continue;
    byRole.set(role, [...(byRole.get(role) ?? []), slot]);
    named.add(slot);
  }
  const inputs: TemplateInput[] = [];
  for (const [role, group] of byRole) {
    const same = group.every((s) => s.value === group[0]!.value && s.kind === group[0]!.kind);
    const sets = group.length === 1 || (same && !NEVER_SHARED.has(role)) ? [group] : group.map((s) => [s]);
    for (const set of sets) {
      const name = sets.length === 1 ? role : `${role}_${set[0]!.node.replace(/[^A-Za-z0-9_]/g, "_")}`;
      inputs.push(inputOver(name, set, describe(workflow, set)));
    }
  }
  for (const slot of slots) {
    if (!named.has(slot)) inputs.push(inputOver(`${slot.node}.${slot.input}`, [slot], describe(workflow, [slot])));
  }
  for (const input of inputs) {
    if (input.seed && input.from.some((f) => controls[f] === "randomize")) input.default = -1;
  }
  return inputs;
}
