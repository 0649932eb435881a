/** UI format -> API format on real saved workflows (test/fixtures/workflows/README.md names their sources). */

import type { Workflow } from "@comfy-edge/shared/contract";
import { describe, expect, it } from "vitest";
import { convertUiWorkflow } from "../../workers/gateway/src/templates/ui-convert.ts";
import { CORE, fixture, WITH_CUSTOM } from "./fixtures.ts";

type Ui = { nodes: Array<{ id: number; type: string; mode: number }>; extra?: Record<string, unknown> } & Record<
  string,
  unknown
>;

function refusal(run: () => unknown): { status: number; code: string; param: string | null; message: string } {
  try {
    run();
  } catch (err) {
    const e = err as { status: number; code: string; param: string | null; message: string };
    return { status: e.status, code: e.code, param: e.param, message: e.message };
  }
  throw new Error("expected a refusal");
}

/** Node ids, classes, input names and links: what must agree between a conversion and ComfyUI's own export. */
function shape(workflow: Workflow) {
  return Object.fromEntries(
    Object.entries(workflow).map(([id, n]) => [
      id,
      {
        class_type: n.class_type,
        inputs: Object.keys(n.inputs).sort(),
        links: Object.entries(n.inputs)
          .filter(([, v]) => Array.isArray(v))
          .sort(([a], [b]) => a.localeCompare(b)),
      },
    ]),
  );
}

describe("UI-format conversion", () => {
  it("SD1.5 text-to-image: the same graph as ComfyUI's API export of the default workflow, values from the saved widgets", () => {
    const { workflow, controls } = convertUiWorkflow(fixture("sd15-txt2img.ui.json"), CORE);
    const exported = fixture("sd15-txt2img.api.json") as Workflow;
    expect(shape(workflow)).toEqual(shape(exported));
    expect(workflow["3"]!.inputs).toMatchObject({
      seed: 156680208700286,
      steps: 20,
      cfg: 8,
      sampler_name: "euler",
      scheduler: "normal",
      denoise: 1,
    });
    expect(workflow["6"]!.inputs.text).toBe("beautiful scenery nature glass bottle landscape, , purple galaxy bottle,");
    // SaveImage was saved without widgets_values: the class default, as the UI would queue it.
    expect(workflow["9"]!.inputs.filename_prefix).toBe("ComfyUI");
    // The old frontend saved the seed's control as `true` (randomize).
    expect(controls).toEqual({ "3.seed": "randomize" });
  });

  it("SD1.5 image-to-image: the control value after the seed and LoadImage's upload value are skipped", () => {
    const { workflow, controls } = convertUiWorkflow(fixture("img2img.ui.json"), CORE);
    expect(workflow["18"]).toMatchObject({ class_type: "LoadImage", inputs: { image: "example.png" } });
    expect(workflow["16"]!.inputs).toMatchObject({
      seed: 881719264574257,
      steps: 20,
      scheduler: "simple",
      latent_image: ["17", 0],
    });
    expect(workflow["17"]!.inputs).toEqual({ pixels: ["18", 0], vae: ["13", 2] });
    expect(controls).toEqual({ "16.seed": "randomize" });
  });

  it("Flux with guidance: the Note is dropped, FluxGuidance sits between the prompt and the sampler", () => {
    const { workflow } = convertUiWorkflow(fixture("flux-guidance.ui.json"), CORE);
    expect(Object.values(workflow).map((n) => n.class_type)).not.toContain("Note");
    expect(workflow["35"]).toMatchObject({
      class_type: "FluxGuidance",
      inputs: { guidance: 3.5, conditioning: ["6", 0] },
    });
    expect(workflow["31"]!.inputs.positive).toEqual(["35", 0]);
  });

  it("SDXL base + refiner with Primitive and Reroute nodes: primitives become values, reroutes their origin", () => {
    const { workflow } = convertUiWorkflow(fixture("sdxl-refiner-primitive-reroute.ui.json"), WITH_CUSTOM);
    const classes = Object.values(workflow).map((n) => n.class_type);
    expect(classes).not.toContain("PrimitiveNode");
    expect(classes).not.toContain("Reroute");
    // One text primitive feeds the base's and the refiner's positive encoders.
    expect(workflow["6"]!.inputs.text).toMatch(/^film still\. A woman in a white dress/);
    expect(workflow["25"]!.inputs.text).toBe(workflow["6"]!.inputs.text);
    expect(workflow["7"]!.inputs.text).toMatch(/^anime, cartoon/);
    expect(workflow["3"]!.inputs).toMatchObject({ steps: 25, end_at_step: 20, noise_seed: ["37", 0] });
    expect(workflow["19"]!.inputs).toMatchObject({ steps: 25, start_at_step: 20, noise_seed: 0 });
    // Reroute 36 carried node 31's latent to the base sampler.
    expect(workflow["3"]!.inputs.latent_image).toEqual(["31", 0]);
    expect(workflow["37"]).toMatchObject({ class_type: "Seed (rgthree)", inputs: { seed: -1 } });
  });

  it("a custom node the pool lacks is refused with 422 unknown_node_class naming it", () => {
    const e = refusal(() => convertUiWorkflow(fixture("sdxl-refiner-primitive-reroute.ui.json"), CORE));
    expect(e).toMatchObject({ status: 422, code: "unknown_node_class", param: "workflow.nodes[4].type" });
    expect(e.message).toContain("Node 37 is a 'Seed (rgthree)'");
    const big = refusal(() => convertUiWorkflow(fixture("sdxl-bypassed-custom.ui.json"), CORE));
    expect(big).toMatchObject({ status: 422, code: "unknown_node_class" });
    expect(big.message).toContain("'CM_IntToFloat'");
  });

  it("LoRA chain: each loader takes the previous one's model and clip", () => {
    const { workflow } = convertUiWorkflow(fixture("sdxl-2lora-upscale.ui.json"), WITH_CUSTOM);
    expect(workflow["24"]!.inputs).toMatchObject({
      model: ["1", 0],
      clip: ["1", 1],
      lora_name: "cyborg_style_xl-alpha.safetensors",
    });
    expect(workflow["46"]!.inputs).toMatchObject({ model: ["24", 0], clip: ["24", 1], strength_model: 0.48 });
    expect(workflow["25"]!.inputs).toMatchObject({ model: ["46", 0], seed: ["43", 0], steps: 30 });
    expect(workflow["45"]!.inputs).toMatchObject({ width: ["44", 0], height: ["44", 1], batch_size: 1 });
  });

  it("bypassed nodes pass their input of the consumer's type through; muted nodes and the inputs they fed are dropped", () => {
    const ui = fixture("sdxl-2lora-upscale.ui.json") as Ui;
    const mode = (id: number, m: number) => {
      ui.nodes.find((n) => n.id === id)!.mode = m;
    };
    mode(46, 4); // bypass the second LoRA
    mode(36, 2); // mute the upscale model loader
    const { workflow } = convertUiWorkflow(ui, WITH_CUSTOM);
    expect(workflow["46"]).toBeUndefined();
    expect(workflow["25"]!.inputs.model).toEqual(["24", 0]);
    expect(workflow["5"]!.inputs.clip).toEqual(["24", 1]);
    expect(workflow["36"]).toBeUndefined();
    expect(workflow["34"]!.inputs).toEqual({ image: ["30", 0] });
    mode(24, 4); // both LoRAs bypassed: straight from the checkpoint
    const both = convertUiWorkflow(ui, WITH_CUSTOM).workflow;
    expect(both["25"]!.inputs.model).toEqual(["1", 0]);
    expect(both["6"]!.inputs.clip).toEqual(["1", 1]);
  });

  it("group nodes and subgraphs are refused with 422 unsupported_workflow naming the node", () => {
    const group = fixture("sd15-txt2img.ui.json") as Ui;
    group.nodes[3]!.type = "workflow>Sampler";
    group.extra = { groupNodes: { Sampler: { nodes: [], links: [] } } };
    const e = refusal(() => convertUiWorkflow(group, CORE));
    expect(e).toMatchObject({ status: 422, code: "unsupported_workflow", param: "workflow.nodes[3].type" });
    expect(e.message).toContain("Node 3");
    expect(e.message).toContain("group node");
    const sub = fixture("sd15-txt2img.ui.json") as Ui;
    sub.nodes[0]!.type = "4f2a1c0e-1111-4222-8333-944455556666";
    sub.definitions = { subgraphs: [{ id: "4f2a1c0e-1111-4222-8333-944455556666", nodes: [] }] };
    expect(refusal(() => convertUiWorkflow(sub, CORE))).toMatchObject({
      code: "unsupported_workflow",
      param: "workflow.nodes[0].type",
    });
  });

  it("a malformed UI workflow is a 400 naming the field", () => {
    const e = refusal(() => convertUiWorkflow({ nodes: [{ id: 1 }] }, CORE));
    expect(e).toMatchObject({ status: 400, code: "invalid_request", param: "workflow.nodes.0.type" });
  });
});
