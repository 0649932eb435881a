/** The committed input-spec table is what compactSpecs gives for the recorded ComfyUI 0.33, so it cannot drift. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { compactSpecs, RawObjectInfo } from "../../workers/gateway/src/templates/specs.ts";
import { CORE } from "./fixtures.ts";

const recorded = RawObjectInfo.parse(
  JSON.parse(readFileSync(path.join(import.meta.dirname, "../comfyui-double/fixtures/object_info_v0.33.json"), "utf8")),
);

describe("template input specs of ComfyUI 0.33", () => {
  it("the committed table equals the specs derived from the recorded object_info (regenerate: node scripts/gen-template-specs.ts)", () => {
    expect(CORE).toEqual(compactSpecs(recorded));
    expect(Object.keys(CORE)).toHaveLength(886);
  });

  it("keeps what conversion and detection need: widget order, seed controls, upload slots, ranges, enums, file pickers", () => {
    const ks = CORE.KSampler!;
    expect(ks.inputs.map((i) => i.name)).toEqual([
      "model",
      "seed",
      "steps",
      "cfg",
      "sampler_name",
      "scheduler",
      "positive",
      "negative",
      "latent_image",
      "denoise",
    ]);
    expect(ks.inputs.find((i) => i.name === "seed")).toMatchObject({ kind: "int", control: true, min: 0 });
    expect(ks.inputs.find((i) => i.name === "denoise")).toMatchObject({ kind: "float", min: 0, max: 1 });
    expect(ks.inputs.find((i) => i.name === "sampler_name")?.options).toContain("dpmpp_2m");
    expect(CORE.KSamplerAdvanced!.inputs.find((i) => i.name === "noise_seed")?.control).toBe(true);
    expect(CORE.LoadImage!.inputs[0]).toMatchObject({ name: "image", kind: "file", upload: true });
    // Model pickers list the recording host's files: kept as free strings, never as an enum.
    expect(CORE.CheckpointLoaderSimple!.inputs[0]).toEqual({ name: "ckpt_name", kind: "file", type: "COMBO" });
    expect(CORE.SaveImage!.output_node).toBe(true);
    expect(CORE.EmptyLatentImage!.inputs.find((i) => i.name === "width")).toMatchObject({ min: 16, step: 8 });
  });
});
