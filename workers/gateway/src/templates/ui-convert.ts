/**
 * ComfyUI UI format (what "Save" writes: `nodes`, `links`, `widgets_values`) -> API format (what
 * "Export (API)" writes and POST /prompt takes), the way ComfyUI's frontend queues a graph (pure):
 * widget values mapped to input names in the class's input order (skipping the `control_after_generate`
 * value after seeds and the upload button value after LoadImage), links, converted widgets (inputs with a
 * `widget`), PrimitiveNode values and Reroute chains resolved, muted nodes (mode 2) dropped, bypassed
 * nodes (mode 4) passed through (the bypassed node's input of the consumer's type takes its place), and
 * inputs left linking to a dropped node removed. Group nodes and subgraphs are refused (422).
 */

import type { Workflow } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { z } from "zod";
import { type ClassSpec, isWidget, type SpecTable } from "./specs.ts";

const Id = z.union([z.number(), z.string()]);
const UiInput = z.looseObject({
  name: z.string(),
  type: z.unknown().optional(),
  link: z.number().nullish(),
  widget: z.looseObject({ name: z.string() }).nullish(),
});
const UiNode = z.looseObject({
  id: Id,
  type: z.string(),
  mode: z.number().optional(),
  title: z.string().nullish(),
  inputs: z.array(UiInput).nullish(),
  widgets_values: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).nullish(),
});
const UiLink = z.union([
  z.tuple([z.number(), Id, z.number(), Id, z.number()]).rest(z.unknown()),
  z.looseObject({ id: z.number(), origin_id: Id, origin_slot: z.number(), target_id: Id, target_slot: z.number() }),
]);
export const UiWorkflow = z.looseObject({
  nodes: z.array(UiNode),
  links: z.array(UiLink.nullable()).nullish(),
  definitions: z.looseObject({ subgraphs: z.array(z.looseObject({ id: z.string() })).nullish() }).nullish(),
  extra: z.looseObject({ groupNodes: z.record(z.string(), z.unknown()).nullish() }).nullish(),
});
export type UiWorkflow = z.infer<typeof UiWorkflow>;
type UiNode = z.infer<typeof UiNode>;
type Link = { origin: string; originSlot: number; type: unknown };

const MUTED = 2;
const BYPASSED = 4;
/** Frontend-only nodes: never sent to the server. */
const VIRTUAL = new Set(["Note", "MarkdownNote", "PrimitiveNode", "Reroute"]);
const CONTROL_VALUES = new Set(["fixed", "increment", "decrement", "randomize"]);

export function isUiWorkflow(value: unknown): boolean {
  return typeof value === "object" && value !== null && Array.isArray((value as { nodes?: unknown }).nodes);
}

export interface Converted {
  workflow: Workflow;
  /** `control_after_generate` of each seed widget ("randomize", "fixed", ...), by `node.input`. */
  controls: Record<string, string>;
}

function refuse(code: string, message: string, param: string): ApiError {
  return new ApiError(422, code, message, { param });
}

/** Widget values of a node, by input name (values the node lacks take the class default). */
function widgetInputs(node: UiNode, spec: ClassSpec, controls: Record<string, string>): Record<string, unknown> {
  const widgets = spec.inputs.filter(isWidget);
  const values = node.widgets_values ?? [];
  const out: Record<string, unknown> = {};
  const id = String(node.id);
  if (!Array.isArray(values)) {
    for (const w of widgets) {
      if (w.name in values) out[w.name] = values[w.name];
      else if (w.default !== undefined) out[w.name] = w.default;
    }
    return out;
  }
  // Saved by different frontends: with or without the upload button's value, and (very old) without controls.
  const controlCount = widgets.filter((w) => w.control).length;
  const uploadCount = widgets.filter((w) => w.upload).length;
  const withUploads = values.length >= widgets.length + controlCount + uploadCount;
  const withControls = values.length >= widgets.length + controlCount;
  let i = 0;
  for (const w of widgets) {
    if (i < values.length) out[w.name] = values[i++];
    else if (w.default !== undefined) out[w.name] = w.default;
    if (w.control && withControls) {
      const control = values[i];
      if (typeof control === "string" && CONTROL_VALUES.has(control)) controls[`${id}.${w.name}`] = control;
      else if (control === true) controls[`${id}.${w.name}`] = "randomize";
      i++;
    }
    if (w.upload && withUploads) i++;
  }
  return out;
}

export function convertUiWorkflow(raw: unknown, specs: SpecTable): Converted {
  const parsed = UiWorkflow.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiError(
      400,
      "invalid_request",
      `workflow looks like ComfyUI's UI format but ${issue.path.join(".") || "it"} is malformed: ${issue.message}.`,
      { param: `workflow.${issue.path.join(".")}`.replace(/\.$/, "") },
    );
  }
  const ui = parsed.data;
  const subgraphs = new Set((ui.definitions?.subgraphs ?? []).map((s) => s.id));
  const groupNodes = new Set(Object.keys(ui.extra?.groupNodes ?? {}));
  const nodes = new Map<string, UiNode>();
  ui.nodes.forEach((node, index) => {
    const param = `workflow.nodes[${index}]`;
    if (
      subgraphs.has(node.type) ||
      groupNodes.has(node.type.replace(/^workflow[>/]/, "")) ||
      /^workflow[>/]/.test(node.type)
    ) {
      throw refuse(
        "unsupported_workflow",
        `Node ${node.id} ('${node.title ?? node.type}') is a ${subgraphs.has(node.type) ? "subgraph" : "group node"}; templates take flat graphs. Convert it back to its nodes in ComfyUI (right click > Unpack / Convert to nodes), or use Export (API).`,
        `${param}.type`,
      );
    }
    nodes.set(String(node.id), node);
  });
  const links = new Map<number, Link>();
  for (const l of ui.links ?? []) {
    if (!l) continue;
    if (Array.isArray(l)) links.set(l[0], { origin: String(l[1]), originSlot: l[2], type: l[5] });
    else links.set(l.id, { origin: String(l.origin_id), originSlot: l.origin_slot, type: l.type });
  }

  /** Where an input's link really comes from: a node output, a primitive's value, or nothing. */
  const resolve = (linkId: number, type: unknown): { link: [string, number] } | { value: unknown } | null => {
    const seen = new Set<number>();
    let current: number | null | undefined = linkId;
    while (current !== null && current !== undefined && !seen.has(current)) {
      seen.add(current);
      const link = links.get(current);
      const origin = link ? nodes.get(link.origin) : undefined;
      if (!link || !origin) return null;
      if (origin.type === "Reroute") {
        current = origin.inputs?.[0]?.link;
        continue;
      }
      if (origin.type === "PrimitiveNode") {
        const values = origin.widgets_values;
        return Array.isArray(values) && values.length > 0 ? { value: values[0] } : null;
      }
      if (origin.mode === BYPASSED) {
        const inputs = origin.inputs ?? [];
        const order = [link.originSlot, ...inputs.map((_, k) => k)];
        const match = order.find((k) => inputs[k] !== undefined && inputs[k]!.type === type);
        if (match === undefined) return null;
        current = inputs[match]!.link;
        continue;
      }
      return { link: [link.origin, link.originSlot] };
    }
    return null;
  };

  const workflow: Workflow = {};
  const controls: Record<string, string> = {};
  ui.nodes.forEach((node, index) => {
    if (node.mode === MUTED || node.mode === BYPASSED || VIRTUAL.has(node.type)) return;
    const spec = specs[node.type];
    if (!spec) {
      throw refuse(
        "unknown_node_class",
        `Node ${node.id} is a '${node.type}', a node class this pool's ComfyUI does not have (a custom node?). Install it on the pool's runners, or remove or bypass the node.`,
        `workflow.nodes[${index}].type`,
      );
    }
    const inputs = widgetInputs(node, spec, controls);
    for (const input of node.inputs ?? []) {
      if (input.link === null || input.link === undefined) continue;
      const name = input.widget?.name ?? input.name;
      const source = resolve(input.link, input.type);
      if (!source) continue;
      inputs[name] = "link" in source ? source.link : source.value;
    }
    const id = String(node.id);
    workflow[id] = {
      class_type: node.type,
      inputs: inputs as Workflow[string]["inputs"],
      _meta: { title: node.title ?? spec.title ?? node.type },
    };
  });
  // Inputs linked to a muted (dropped) node go, as the frontend removes them.
  for (const node of Object.values(workflow)) {
    for (const [name, value] of Object.entries(node.inputs)) {
      if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && !(value[0] in workflow))
        delete node.inputs[name];
    }
  }
  if (Object.keys(workflow).length === 0) {
    throw refuse(
      "invalid_workflow",
      "The workflow has no node that would run (all muted, bypassed or notes).",
      "workflow.nodes",
    );
  }
  return { workflow, controls };
}
