/** The real ComfyUI 0.33 /object_info (886 classes) as a capability report, and workflows against it. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { buildReport } from "../../workers/shared/capabilities/build.ts";
import type { Workflow } from "../../workers/shared/contract/jobs.ts";
import type { CapabilityReport } from "../../workers/shared/contract/runner.ts";

const FIXTURE = path.join(import.meta.dirname, "../comfyui-double/fixtures/object_info_v0.33.json");

export function objectInfo033(): Record<string, unknown> {
  return JSON.parse(readFileSync(FIXTURE, "utf8")) as Record<string, unknown>;
}

/** The report a runner builds from the 0.33 server with these model files. */
export function report033(models: Record<string, string[]> = { checkpoints: ["sd15.safetensors"] }): CapabilityReport {
  return buildReport({
    objectInfo: objectInfo033(),
    models,
    systemStats: {
      system: { comfyui_version: "0.33.0" },
      devices: [{ name: "cuda:0 NVIDIA L4", vram_total: 24 * 2 ** 30 }],
    },
    slots: 1,
  });
}

/** A txt2img graph against the 0.33 classes. */
export function txt2img(ckpt = "sd15.safetensors"): Workflow {
  return {
    "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: ckpt } },
    "5": { class_type: "EmptyLatentImage", inputs: { width: 512, height: 512, batch_size: 1 } },
    "6": { class_type: "CLIPTextEncode", inputs: { text: "a harbour at dawn", clip: ["4", 1] } },
    "7": { class_type: "CLIPTextEncode", inputs: { text: "blurry", clip: ["4", 1] } },
    "3": {
      class_type: "KSampler",
      inputs: {
        seed: 1,
        steps: 20,
        cfg: 7,
        sampler_name: "euler",
        scheduler: "normal",
        denoise: 1,
        model: ["4", 0],
        positive: ["6", 0],
        negative: ["7", 0],
        latent_image: ["5", 0],
      },
    },
    "8": { class_type: "VAEDecode", inputs: { samples: ["3", 0], vae: ["4", 2] } },
    "9": { class_type: "SaveImage", inputs: { images: ["8", 0], filename_prefix: "t" } },
  };
}
