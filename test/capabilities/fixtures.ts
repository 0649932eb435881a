/** The real ComfyUI 0.33 /object_info (886 classes) as a capability report, and workflows against it. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { buildReport } from "@comfy-edge/shared/capabilities/build";
import type { Workflow } from "@comfy-edge/shared/contract/jobs";
import type { CapabilityReport } from "@comfy-edge/shared/contract/runner";
import { txt2imgWorkflow } from "../harness/workflows.ts";

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
  return txt2imgWorkflow({ ckpt });
}
