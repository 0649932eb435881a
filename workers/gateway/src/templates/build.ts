/**
 * A template version from what its author sent (pure): the graph in API format (converted from the UI
 * format when needed) with every input's default written in, and its typed inputs (detected, then the
 * author's overrides). The specs are the pool's object_info (today: ComfyUI 0.33's table).
 */
import { Workflow } from "@comfy-edge/shared/contract";
import type { InputOverride } from "@comfy-edge/shared/contract/templates";
import { parseWith } from "../lib/schema-error.ts";
import { detectInputs, type TemplateInput } from "./detect.ts";
import table from "./object-info-0.33.json" with { type: "json" };
import { applyOverrides } from "./overrides.ts";
import { withDefaults } from "./schema.ts";
import type { SpecTable } from "./specs.ts";
import { convertUiWorkflow, isUiWorkflow } from "./ui-convert.ts";

/** Input specs of ComfyUI 0.33 (scripts/gen-template-specs.ts), used while pools report no capabilities. */
export const DEFAULT_SPECS = table as SpecTable;

export interface BuiltTemplate {
  workflow: Workflow;
  inputs: TemplateInput[];
  source: "ui" | "api";
}

export function buildTemplate(
  raw: unknown,
  overrides: Record<string, InputOverride> | undefined,
  specs: SpecTable = DEFAULT_SPECS,
): BuiltTemplate {
  const ui = isUiWorkflow(raw);
  const converted = ui
    ? convertUiWorkflow(raw, specs)
    : { workflow: parseWith(Workflow, raw, "workflow"), controls: {} };
  const detected = detectInputs(converted.workflow, specs, converted.controls);
  const inputs = overrides ? applyOverrides(detected, overrides, converted.workflow, specs) : detected;
  return { workflow: withDefaults(converted.workflow, inputs), inputs, source: ui ? "ui" : "api" };
}
