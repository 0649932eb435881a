/**
 * Workflow inputs that name a model file, and the ComfyUI folder each reads from. Where the pool and the
 * tenant allow it (docs/models.md), such an input may be an https URL: the gateway checks it, the runner
 * downloads it into that folder and rewrites the input to the local file name.
 */
import type { Workflow } from "../contract/jobs.ts";
import type { ModelFolder } from "../contract/models.ts";

export const MODEL_INPUT_FOLDERS: Readonly<Record<string, ModelFolder>> = {
  ckpt_name: "checkpoints",
  lora_name: "loras",
  vae_name: "vae",
  control_net_name: "controlnet",
  unet_name: "unet",
  clip_name: "clip",
  clip_name1: "clip",
  clip_name2: "clip",
  upscale_model: "upscale_models",
  style_model_name: "style_models",
  gligen_name: "gligen",
  hypernetwork_name: "hypernetworks",
};

export interface UrlModelInput {
  nodeId: string;
  input: string;
  url: string;
  folder: ModelFolder;
}

/** Model inputs whose value is an http(s) URL, in node order. */
export function urlModelInputs(workflow: Workflow): UrlModelInput[] {
  const out: UrlModelInput[] = [];
  for (const [nodeId, node] of Object.entries(workflow)) {
    for (const [input, value] of Object.entries(node.inputs)) {
      const folder = Object.hasOwn(MODEL_INPUT_FOLDERS, input) ? MODEL_INPUT_FOLDERS[input] : undefined;
      if (folder !== undefined && typeof value === "string" && /^https?:\/\//i.test(value))
        out.push({ nodeId, input, url: value, folder });
    }
  }
  return out;
}
