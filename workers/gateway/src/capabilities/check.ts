/**
 * Submit-time check of a workflow against what the pool's live runners can run (pure): every class known,
 * every model file present on some runner, every literal input value of the type, range, step and enum
 * ComfyUI declares, every required input given. Throws the first refusal as a 422 naming the input; answers
 * what the job needs from a runner (its classes and model files), which the pool's dispatcher matches.
 */
import type { DispatchNeeds, InputCapability, Workflow } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { isRandomSeed, RUNNER_SET_INPUTS } from "@comfy-edge/shared/runner-filled";
import { closest, quoteList } from "./closest.ts";
import type { CapIndex } from "./union.ts";

function isLink(v: unknown): boolean {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "number";
}

function refuse(code: string, message: string, param: string, details?: Record<string, unknown>): never {
  throw new ApiError(422, code, message, { param, details });
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function checkNumber(v: unknown, spec: InputCapability, where: string, param: string): void {
  const int = spec.type === "INT";
  if (typeof v !== "number" || !Number.isFinite(v) || (int && !Number.isInteger(v))) {
    refuse("invalid_input_value", `${where} must be ${int ? "an integer" : "a number"}; got ${show(v)}.`, param);
  }
  if (spec.min !== undefined && v < spec.min)
    refuse("invalid_input_value", `${where} must be at least ${spec.min}; got ${v}.`, param);
  if (spec.max !== undefined && v > spec.max)
    refuse("invalid_input_value", `${where} must be at most ${spec.max}; got ${v}.`, param);
  // Steps of integers only (float steps are display precision; ComfyUI rounds them).
  if (int && spec.step !== undefined && spec.step > 1 && Number.isSafeInteger(v)) {
    const base = spec.min !== undefined && Number.isSafeInteger(spec.min) ? spec.min : 0;
    if ((v - base) % spec.step !== 0)
      refuse("invalid_input_value", `${where} must be a multiple of ${spec.step}; got ${v}.`, param);
  }
}

function checkValue(
  v: unknown,
  spec: InputCapability,
  where: string,
  param: string,
  index: CapIndex,
  needs: DispatchNeeds,
): void {
  switch (spec.type) {
    case "INT":
    case "FLOAT":
      checkNumber(v, spec, where, param);
      return;
    case "STRING":
      if (typeof v !== "string") refuse("invalid_input_value", `${where} must be a string; got ${show(v)}.`, param);
      return;
    case "BOOLEAN":
      if (typeof v !== "boolean")
        refuse("invalid_input_value", `${where} must be true or false; got ${show(v)}.`, param);
      return;
    case "COMBO": {
      // File pickers, and file inputs given as URLs, data: or file:<id> (fetched for the runner).
      if (spec.files || (typeof v === "string" && /^(https?:|data:|file:)/.test(v))) return;
      if (typeof v !== "string") refuse("invalid_input_value", `${where} must be a string; got ${show(v)}.`, param);
      if (spec.folder) {
        if (!index.files(spec.folder).has(v)) {
          const near = closest(v, index.fileList(spec.folder));
          refuse(
            "model_not_available",
            `No runner of this pool has '${show(v).slice(1, -1)}' in ${spec.folder}.${near.length ? ` Closest: ${quoteList(near)}.` : ` The pool has no ${spec.folder} files.`} GET /v1/pools/:name/capabilities lists them.`,
            param,
            { folder: spec.folder, closest: near },
          );
        }
        needs.models.push({ folder: spec.folder, name: v });
        return;
      }
      if (spec.options && !index.enumValues(spec).has(v)) {
        const near = closest(v, spec.options);
        refuse(
          "invalid_input_value",
          `${where} must be one of the ${spec.options.length} values this pool accepts; got ${show(v)}.${near.length ? ` Closest: ${quoteList(near)}.` : ""}`,
          param,
          { closest: near },
        );
      }
      return;
    }
    default:
      // A link type (MODEL, IMAGE, ...): ComfyUI needs a link, not a value.
      refuse(
        "invalid_input_value",
        `${where} takes a ${spec.type} from another node: a link ["<node id>", <output index>]; got ${show(v)}.`,
        param,
      );
  }
}

/** The 422 for the first input the pool cannot run, else what the job needs from a runner. */
export function checkAgainstPool(workflow: Workflow, index: CapIndex): DispatchNeeds {
  const needs: DispatchNeeds = { node_classes: [], models: [] };
  const classes = new Set<string>();
  for (const [id, node] of Object.entries(workflow)) {
    const cls = index.classes.get(node.class_type);
    if (!cls) {
      const near = closest(node.class_type, index.classes.keys());
      refuse(
        "unknown_node_class",
        `No runner of this pool has the node class '${node.class_type.slice(0, 200)}' (node ${id}).${near.length ? ` Closest: ${quoteList(near)}.` : ""}`,
        `workflow.${id}.class_type`,
        { closest: near },
      );
    }
    classes.add(node.class_type);
    const given = node.inputs as Record<string, unknown>;
    for (const [name, spec] of Object.entries(cls.inputs)) {
      const v = given[name];
      const param = `workflow.${id}.inputs.${name}`;
      const where = `Input '${name}' of node ${id} (${node.class_type})`;
      if (RUNNER_SET_INPUTS.has(name)) continue; // the runner always sets it
      if (v === undefined || v === null) {
        if (!spec.optional) refuse("missing_input", `${where} is required.`, param);
        continue;
      }
      if (isLink(v) || isRandomSeed(name, v)) continue;
      checkValue(v, spec, where, param, index, needs);
    }
  }
  needs.node_classes = [...classes].sort();
  return needs;
}
