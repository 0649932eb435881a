/**
 * The rules that sort ComfyUI node classes into the node policy's groups, applied to a server's
 * `GET /object_info` (pure). `scripts/gen-node-classes.ts` writes their result for ComfyUI 0.33 into
 * node-policy-classes.ts, and node-policy-classes.test.ts re-applies them to the recorded object_info so
 * the table cannot drift from the rules or the server.
 */
import { z } from "zod";

const InputSpec = z.array(z.unknown());
const InputSection = z.record(z.string(), InputSpec).nullish();

export const ObjectInfoEntry = z.looseObject({
  input: z.looseObject({
    required: InputSection,
    optional: InputSection,
    hidden: z.record(z.string(), z.unknown()).nullish(),
  }),
  category: z.string().nullish(),
  output_node: z.boolean().nullish(),
  api_node: z.boolean().nullish(),
});
export const ObjectInfo = z.record(z.string(), ObjectInfoEntry);
export type ObjectInfo = z.infer<typeof ObjectInfo>;

export interface NodeClasses {
  /** Class -> its inputs that name a file or folder on the GPU host (sorted). */
  fileReaders: Record<string, string[]>;
  /** Classes that write files other than job outputs: model, LoRA, latent and dataset savers. */
  writers: string[];
  /** Paid partner API nodes: they call comfy.org's API on the operator's account. */
  apiNodes: string[];
}

/** Widget options that mark an input whose value is a file (or folder) in ComfyUI's input/output/temp folders. */
const FILE_FLAGS = ["image_upload", "video_upload", "audio_upload", "file_upload", "image_folder", "remote"];
/** Input types whose widget value holds file paths (the 3D viewer's state, webcam and microphone captures). */
const FILE_TYPES = new Set(["LOAD_3D", "WEBCAM", "AUDIO_RECORD"]);
/** Inputs that pick a file or folder by name from a list (outside model loaders, whose files the operator owns). */
const FILE_PICKER_NAMES = new Set(["latent", "file", "folder", "folder_name"]);
/** Values a writer saves: models, LoRAs, latents, training data. */
const SAVED_TYPES = new Set(["MODEL", "CLIP", "VAE", "CLIP_VISION", "LORA_MODEL", "LATENT", "CONDITIONING"]);
const PREFIX_NAMES = new Set(["filename_prefix", "prefix", "folder_name"]);
/** Hidden inputs through which ComfyUI hands a node the comfy.org account credentials. */
const ACCOUNT_INPUTS = ["auth_token_comfy_org", "api_key_comfy_org"];

function inputsOf(entry: z.infer<typeof ObjectInfoEntry>): Array<[string, unknown[]]> {
  return [...Object.entries(entry.input.required ?? {}), ...Object.entries(entry.input.optional ?? {})];
}

function isList(type: unknown): boolean {
  return Array.isArray(type) || type === "COMBO";
}

function fileInputs(entry: z.infer<typeof ObjectInfoEntry>): string[] {
  const modelLoader = (entry.category ?? "").startsWith("model/loaders");
  const out: string[] = [];
  for (const [input, spec] of inputsOf(entry)) {
    const [type, options] = spec;
    const flagged = typeof options === "object" && options !== null && FILE_FLAGS.some((f) => f in (options as object));
    const picker = !modelLoader && isList(type) && FILE_PICKER_NAMES.has(input);
    if (flagged || picker || (typeof type === "string" && FILE_TYPES.has(type))) out.push(input);
  }
  return out.sort();
}

function isWriter(entry: z.infer<typeof ObjectInfoEntry>): boolean {
  if (!entry.output_node) return false;
  const inputs = inputsOf(entry);
  const named = inputs.some(([input, [type]]) => PREFIX_NAMES.has(input) && type === "STRING");
  const saves = inputs.some(
    ([input, [type]]) => input === "folder_name" || (typeof type === "string" && SAVED_TYPES.has(type)),
  );
  return named && saves;
}

function isApiNode(entry: z.infer<typeof ObjectInfoEntry>): boolean {
  const hidden = entry.input.hidden ?? {};
  return entry.api_node === true || ACCOUNT_INPUTS.some((h) => h in hidden);
}

export function classifyNodes(info: ObjectInfo): NodeClasses {
  const fileReaders: Record<string, string[]> = {};
  const writers: string[] = [];
  const apiNodes: string[] = [];
  for (const name of Object.keys(info).sort()) {
    const entry = info[name]!;
    const files = fileInputs(entry);
    if (files.length > 0) fileReaders[name] = files;
    if (isWriter(entry)) writers.push(name);
    if (isApiNode(entry)) apiNodes.push(name);
  }
  return { fileReaders, writers, apiNodes };
}
