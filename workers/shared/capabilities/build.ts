/**
 * A capability report (contract/runner.ts CapabilityReport) from what a ComfyUI server says about itself:
 * GET /object_info (node classes and their input specs), GET /models/<folder> (model files per folder,
 * ComfyUI >= 0.3.x; older servers: the combo lists of the known loader inputs), GET /system_stats (version,
 * GPU). Pure: the runner fetches, this shapes. The digest is sha256 of the canonical JSON (sorted keys).
 */
import type { CapabilityReport, InputCapability, NodeClassCapability } from "../contract/runner.ts";
import { sha256Hex } from "../crypto.ts";

type Raw = Record<string, unknown>;

/** Loader inputs and the model folder they read, for servers without GET /models (and as a cross-check). */
export const KNOWN_MODEL_INPUTS: Readonly<Record<string, string>> = {
  "CheckpointLoaderSimple.ckpt_name": "checkpoints",
  "CheckpointLoader.ckpt_name": "checkpoints",
  "ImageOnlyCheckpointLoader.ckpt_name": "checkpoints",
  "unCLIPCheckpointLoader.ckpt_name": "checkpoints",
  "LoraLoader.lora_name": "loras",
  "LoraLoaderModelOnly.lora_name": "loras",
  "VAELoader.vae_name": "vae",
  "ControlNetLoader.control_net_name": "controlnet",
  "DiffControlNetLoader.control_net_name": "controlnet",
  "UpscaleModelLoader.model_name": "upscale_models",
  "CLIPLoader.clip_name": "text_encoders",
  "UNETLoader.unet_name": "diffusion_models",
  "CLIPVisionLoader.clip_name": "clip_vision",
  "StyleModelLoader.style_model_name": "style_models",
  "GLIGENLoader.gligen_name": "gligen",
  "HypernetworkLoader.hypernetwork_name": "hypernetworks",
  "PhotoMakerLoader.photomaker_model_name": "photomaker",
};

const SCALARS = new Set(["INT", "FLOAT", "STRING", "BOOLEAN"]);

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function strings(list: unknown[]): string[] {
  return list.filter((v): v is string => typeof v === "string");
}

/** `folderOf(values)`: the model folder whose file list is exactly these values, if any. */
type FolderOf = (key: string, values: string[]) => string | undefined;

function inputCapability(key: string, raw: unknown, optional: boolean, folderOf: FolderOf): InputCapability {
  const [type, rawOpts] = Array.isArray(raw) ? raw : [raw];
  const opts = (rawOpts && typeof rawOpts === "object" ? rawOpts : {}) as Raw;
  const base = optional ? { optional: true as const } : {};
  const list = Array.isArray(type) ? type : type === "COMBO" && Array.isArray(opts.options) ? opts.options : null;
  if (list) {
    const values = strings(list);
    const folder = folderOf(key, values);
    if (folder) return { type: "COMBO", ...base, folder };
    if (opts.image_upload === true || opts.video_upload === true || opts.audio_upload === true)
      return { type: "COMBO", ...base, files: true };
    return { type: "COMBO", ...base, options: values };
  }
  const name = typeof type === "string" && type.length > 0 ? type.slice(0, 200) : "*";
  if (!SCALARS.has(name) || opts.forceInput === true) return { type: name, ...base };
  const cap: InputCapability = { type: name, ...base };
  for (const k of ["min", "max", "step"] as const) {
    const v = num(opts[k]);
    if (v !== undefined && (k !== "step" || v > 0)) cap[k] = v;
  }
  return cap;
}

export interface ReportSources {
  objectInfo: Record<string, unknown>;
  /** GET /models/<folder> per folder; null when the server has no /models (then known loader combos). */
  models: Record<string, string[]> | null;
  systemStats: unknown;
  slots: number;
}

function gpuOf(stats: unknown): CapabilityReport["gpu"] {
  const devices = (stats as { devices?: unknown } | null)?.devices;
  if (!Array.isArray(devices) || devices.length === 0) return null;
  const d = devices[0] as Raw;
  return {
    name: typeof d.name === "string" ? d.name.slice(0, 200) : "unknown",
    vram_bytes: num(d.vram_total) ?? 0,
  };
}

function versionOf(stats: unknown): string | null {
  const v = (stats as { system?: { comfyui_version?: unknown } } | null)?.system?.comfyui_version;
  return typeof v === "string" ? v.slice(0, 64) : null;
}

export function buildReport(src: ReportSources): CapabilityReport {
  const models: Record<string, string[]> = {};
  if (src.models) for (const [f, files] of Object.entries(src.models)) models[f] = [...new Set(files)].sort();
  const byList = new Map<string, string>();
  for (const [f, files] of Object.entries(models)) if (files.length > 0) byList.set(files.join("\n"), f);
  const folderOf: FolderOf = (key, values) => {
    const known = KNOWN_MODEL_INPUTS[key];
    if (known) {
      // What the loader's combo offers is what ComfyUI accepts (VAELoader adds e.g. "pixel_space").
      models[known] = [...new Set([...(models[known] ?? []), ...values])].sort();
      return known;
    }
    return values.length > 0 ? byList.get([...new Set(values)].sort().join("\n")) : undefined;
  };
  const nodeClasses: Record<string, NodeClassCapability> = {};
  for (const [cls, entry] of Object.entries(src.objectInfo)) {
    const input = ((entry as Raw | null)?.input ?? {}) as Raw;
    const inputs: Record<string, InputCapability> = {};
    for (const section of ["required", "optional"] as const) {
      const specs = (input[section] ?? {}) as Raw;
      if (!specs || typeof specs !== "object") continue;
      for (const [name, raw] of Object.entries(specs))
        inputs[name] = inputCapability(`${cls}.${name}`, raw, section === "optional", folderOf);
    }
    const spec: NodeClassCapability = { inputs };
    if ((entry as Raw | null)?.output_node === true) spec.output_node = true;
    nodeClasses[cls] = spec;
  }
  return {
    comfyui_version: versionOf(src.systemStats),
    node_classes: nodeClasses,
    models,
    gpu: gpuOf(src.systemStats),
    slots: src.slots,
  };
}

/** JSON with object keys sorted at every level: one text per report, whatever order it was built in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Raw)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function reportDigest(report: CapabilityReport): Promise<string> {
  return sha256Hex(canonicalJson(report));
}
