/**
 * The author's say over detected inputs (pure): rename or define (`"prompt": "6.text"`), define with a
 * default (`"style": {"from": "12.text", "default": "..."}`), share one input among several nodes
 * (`{"from": ["6.text", "16.text"]}`), hide (`"seed": false` or `{"hidden": true}`; a hidden input keeps
 * its default and a run may not set it). A graph input named by an override leaves every other input.
 */
import type { Workflow } from "@comfy-edge/shared/contract";
import type { InputOverride } from "@comfy-edge/shared/contract/templates";
import { ApiError } from "@comfy-edge/shared/errors";
import { inputOver, literalSlots, type Slot, type TemplateInput } from "./detect.ts";
import { checkValue } from "./schema.ts";
import type { SpecTable } from "./specs.ts";

function bad(name: string, message: string, sub = ""): ApiError {
  return new ApiError(422, "invalid_template_input", message, { param: `inputs.${name}${sub}` });
}

export function applyOverrides(
  detected: TemplateInput[],
  overrides: Record<string, InputOverride>,
  workflow: Workflow,
  specs: SpecTable,
): TemplateInput[] {
  const slots = new Map<string, Slot>(literalSlots(workflow, specs).map((s) => [`${s.node}.${s.input}`, s]));
  let inputs = detected.map((i) => ({ ...i }));
  let head = 0;
  for (const [name, raw] of Object.entries(overrides)) {
    const o = typeof raw === "object" && !Array.isArray(raw) ? raw : raw === false ? { hidden: true } : { from: raw };
    if (o.from === undefined) {
      const existing = inputs.find((i) => i.name === name);
      if (!existing) {
        const names = inputs.map((i) => i.name).slice(0, 20);
        throw bad(
          name,
          `No detected input is named '${name}'; give "from": "<node>.<input>" to define it. Detected: ${names.join(", ")}.`,
        );
      }
      if (o.hidden !== undefined) existing.hidden = o.hidden;
      if (o.description !== undefined) existing.description = o.description;
      if (o.default !== undefined) existing.default = checkValue(existing, o.default, `inputs.${name}.default`, 422);
      continue;
    }
    const from = Array.isArray(o.from) ? o.from : [o.from];
    const chosen = from.map((target, k) => {
      const slot = slots.get(target);
      if (!slot) {
        const sub = Array.isArray(o.from) ? `.from[${k}]` : ".from";
        const [node] = target.split(".");
        const why =
          node && node in workflow
            ? `node ${node} has no widget input '${target.slice(node.length + 1)}' holding a value (linked inputs cannot be set)`
            : `the workflow has no node '${node ?? target}'`;
        throw bad(
          name,
          `'${target}' is not an input of this workflow: ${why}. Use "<node id>.<input name>", e.g. "6.text".`,
          sub,
        );
      }
      return slot;
    });
    const kinds = new Set(chosen.map((s) => s.kind));
    if (kinds.size > 1)
      throw bad(
        name,
        `The inputs of '${name}' hold different types (${[...kinds].join(", ")}); one input sets values of one type.`,
        ".from",
      );
    const taken = new Set(chosen.map((s) => `${s.node}.${s.input}`));
    inputs = inputs
      .filter((i) => i.name !== name)
      .map((i) => ({ ...i, from: i.from.filter((f) => !taken.has(f)) }))
      .filter((i) => i.from.length > 0);
    const input = inputOver(name, chosen, o.description);
    if (o.default !== undefined) input.default = checkValue(input, o.default, `inputs.${name}.default`, 422);
    if (o.hidden) input.hidden = true;
    inputs.splice(Math.min(head++, inputs.length), 0, input);
  }
  return inputs;
}
