/**
 * The input specs a template is built with: the pool's capabilities when its live runners report them
 * (docs/capabilities.md), else ComfyUI 0.33's table. With a report, only the classes some runner has are
 * known (a UI-format node of another class is 422 `unknown_node_class`), enums take the pool's values, and
 * model pickers become enums of the files the pool has (so `checkpoint` and `lora` list real files). The
 * 0.33 table still gives what reports leave out: widget order, defaults, seed controls, upload slots,
 * output types. `mergeSpecs` is pure.
 */
import type { InputCapability } from "@comfy-edge/shared/contract";
import type { CapIndex } from "../capabilities/union.ts";
import { DEFAULT_SPECS } from "./build.ts";
import type { InputSpec, SpecTable } from "./specs.ts";

const KINDS: Record<string, InputSpec["kind"]> = { INT: "int", FLOAT: "float", STRING: "string", BOOLEAN: "boolean" };

function fromCapability(name: string, cap: InputCapability, caps: CapIndex): InputSpec {
  const spec: InputSpec = { name, type: cap.type, kind: KINDS[cap.type] ?? "link" };
  if (cap.optional) spec.optional = true;
  if (cap.type === "COMBO") {
    if (cap.folder) return { ...spec, kind: "enum", options: [...caps.fileList(cap.folder)] };
    if (cap.files) return { ...spec, kind: "file", upload: true };
    return { ...spec, kind: "enum", options: cap.options ?? [] };
  }
  for (const k of ["min", "max", "step"] as const) if (cap[k] !== undefined) spec[k] = cap[k];
  // As in specs.ts: the UI adds a control value after a seed widget.
  if (spec.kind === "int" && (name === "seed" || name === "noise_seed")) spec.control = true;
  return spec;
}

/** The pool's classes with the 0.33 table's order and defaults, and the pool's enums and model files. */
export function mergeSpecs(caps: CapIndex, base: SpecTable = DEFAULT_SPECS): SpecTable {
  const table: SpecTable = {};
  for (const [cls, cap] of caps.classes) {
    const known = base[cls];
    const names = [...(known?.inputs.map((i) => i.name) ?? []), ...Object.keys(cap.inputs)];
    const inputs: InputSpec[] = [];
    for (const name of new Set(names)) {
      const old = known?.inputs.find((i) => i.name === name);
      const reported = cap.inputs[name];
      if (!reported) continue;
      const fresh = fromCapability(name, reported, caps);
      if (!old) inputs.push(fresh);
      else if (old.kind === "link" || fresh.kind === "link") inputs.push(old);
      else if (fresh.kind === "enum" && fresh.options) {
        const d = old.default !== undefined && fresh.options.includes(String(old.default)) ? old.default : undefined;
        const { default: _, ...rest } = old;
        inputs.push({ ...rest, kind: "enum", options: fresh.options, ...(d !== undefined ? { default: d } : {}) });
      } else inputs.push(old);
    }
    table[cls] = {
      inputs,
      outputs: known?.outputs ?? [],
      ...(known?.title ? { title: known.title } : {}),
      ...(known?.output_node || cap.output_node ? { output_node: true as const } : {}),
    };
  }
  return table;
}
