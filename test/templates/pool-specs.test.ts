/** Templates built with a pool's capability report (the real 0.33 object_info plus the pool's model files). */
import { describe, expect, it } from "vitest";
import { CapIndex } from "../../workers/gateway/src/capabilities/union.ts";
import { buildTemplate } from "../../workers/gateway/src/templates/build.ts";
import { mergeSpecs } from "../../workers/gateway/src/templates/pool-specs.ts";
import { checkRunInputs } from "../../workers/gateway/src/templates/schema.ts";
import { report033 } from "../capabilities/fixtures.ts";
import { CORE, fixture } from "./fixtures.ts";

function poolSpecs(drop: string[] = []) {
  const report = report033({ checkpoints: ["tiny.safetensors", "sdxl.safetensors"], loras: ["a.safetensors"] });
  for (const cls of drop) delete report.node_classes[cls];
  return mergeSpecs(new CapIndex(report), CORE);
}

describe("template specs from a pool's capabilities", () => {
  it("checkpoint becomes an enum of the pool's files; order, defaults and seed controls stay those of the table", () => {
    const specs = poolSpecs();
    // The pool's files: its /models listing and what its loader's combo offers.
    const files = specs.CheckpointLoaderSimple!.inputs[0]!;
    expect(files).toMatchObject({
      kind: "enum",
      options: expect.arrayContaining(["sdxl.safetensors", "tiny.safetensors"]),
    });
    expect(specs.KSampler!.inputs.map((i) => i.name)).toEqual(CORE.KSampler!.inputs.map((i) => i.name));
    expect(specs.KSampler!.inputs.find((i) => i.name === "seed")).toMatchObject({ control: true });
    expect(specs.LoadImage!.inputs[0]).toMatchObject({ kind: "file", upload: true });

    const t = buildTemplate(fixture("sd15-txt2img.ui.json"), { checkpoint: { default: "tiny.safetensors" } }, specs);
    const checkpoint = t.inputs.find((i) => i.name === "checkpoint")!;
    expect(checkpoint).toMatchObject({ kind: "enum", default: "tiny.safetensors", options: files.options });
    expect(t.workflow["3"]!.inputs).toMatchObject({ seed: -1, steps: 20, sampler_name: "euler" });
    expect(() => checkRunInputs(t.inputs, { checkpoint: "v1-5.safetensors" })).toThrow(
      /"v1-5.safetensors" is not one of "sdxl.safetensors", /,
    );
  });

  it("a UI-format node of a class no runner of the pool has is refused, naming it", () => {
    expect(() => buildTemplate(fixture("flux-guidance.ui.json"), undefined, poolSpecs(["FluxGuidance"]))).toThrow(
      /Node 35 is a 'FluxGuidance'/,
    );
    expect(buildTemplate(fixture("flux-guidance.ui.json"), undefined, poolSpecs()).inputs.map((i) => i.name)).toContain(
      "guidance",
    );
  });
});
