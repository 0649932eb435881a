/**
 * The capabilities of a pool: the union of its live runners' reports (pure). A class any runner has is
 * known; an enum takes every runner's values; a number range the widest; a model folder every runner's
 * files. `CapIndex` is the same with sets, built once per union and read on every submit.
 */
import type { CapabilityReport, InputCapability, NodeClassCapability } from "@comfy-edge/shared/contract";

export interface PoolCapabilities {
  /** sha256 of the sorted digests of the live runners' reports: names this union. */
  digest: string;
  /** Live runners (token, id, report) reporting. */
  runners: number;
  /** Live runners that send no report (older runners): while there are any, submits are not checked. */
  unreported_runners: number;
  comfyui_versions: string[];
  node_classes: Record<string, NodeClassCapability>;
  models: Record<string, string[]>;
}

function mergeInput(a: InputCapability, b: InputCapability): InputCapability {
  if (a.type !== b.type) return a;
  const out: InputCapability = { ...a };
  if (!b.optional) delete out.optional;
  if (a.options && b.options) out.options = [...new Set([...a.options, ...b.options])];
  out.min = a.min === undefined || b.min === undefined ? undefined : Math.min(a.min, b.min);
  out.max = a.max === undefined || b.max === undefined ? undefined : Math.max(a.max, b.max);
  if (a.step !== b.step) out.step = undefined;
  for (const k of ["min", "max", "step"] as const) if (out[k] === undefined) delete out[k];
  return out;
}

function mergeClass(a: NodeClassCapability, b: NodeClassCapability): NodeClassCapability {
  const inputs: Record<string, InputCapability> = {};
  // An input one version lacks is optional in the union (a workflow for either version passes).
  for (const [name, spec] of Object.entries(a.inputs)) {
    const other = b.inputs[name];
    inputs[name] = other ? mergeInput(spec, other) : { ...spec, optional: true };
  }
  for (const [name, spec] of Object.entries(b.inputs)) if (!a.inputs[name]) inputs[name] = { ...spec, optional: true };
  return { ...a, inputs };
}

export function unionReports(
  reports: CapabilityReport[],
): Pick<PoolCapabilities, "comfyui_versions" | "node_classes" | "models"> {
  const classes: Record<string, NodeClassCapability> = {};
  const models: Record<string, Set<string>> = {};
  const versions = new Set<string>();
  for (const r of reports) {
    if (r.comfyui_version) versions.add(r.comfyui_version);
    for (const [cls, spec] of Object.entries(r.node_classes)) {
      const seen = classes[cls];
      classes[cls] = seen ? mergeClass(seen, spec) : spec;
    }
    for (const [folder, files] of Object.entries(r.models)) {
      const set = models[folder] ?? new Set<string>();
      for (const f of files) set.add(f);
      models[folder] = set;
    }
  }
  return {
    comfyui_versions: [...versions].sort(),
    node_classes: classes,
    models: Object.fromEntries(Object.entries(models).map(([f, s]) => [f, [...s].sort()])),
  };
}

/** Lookup form of a union or of one report: sets built once, enum sets built on first use. */
export class CapIndex {
  readonly classes: ReadonlyMap<string, NodeClassCapability>;
  private readonly folders = new Map<string, Set<string>>();
  private readonly enums = new Map<InputCapability, Set<string>>();
  private readonly raw: Record<string, string[]>;

  constructor(caps: Pick<PoolCapabilities, "node_classes" | "models">) {
    this.classes = new Map(Object.entries(caps.node_classes));
    this.raw = caps.models;
  }

  files(folder: string): Set<string> {
    let set = this.folders.get(folder);
    if (!set) {
      set = new Set(this.raw[folder] ?? []);
      this.folders.set(folder, set);
    }
    return set;
  }

  fileList(folder: string): readonly string[] {
    return this.raw[folder] ?? [];
  }

  enumValues(spec: InputCapability): Set<string> {
    let set = this.enums.get(spec);
    if (!set) {
      set = new Set(spec.options ?? []);
      this.enums.set(spec, set);
    }
    return set;
  }
}
