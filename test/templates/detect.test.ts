/** Typed inputs detected from real workflows, the author's overrides, the JSON Schema and run-input checks. */

import type { Workflow } from "@comfy-edge/shared/contract";
import Ajv2020 from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { buildTemplate } from "../../workers/gateway/src/templates/build.ts";
import type { TemplateInput } from "../../workers/gateway/src/templates/detect.ts";
import { applyInputs, checkRunInputs, exampleRun, inputsSchema } from "../../workers/gateway/src/templates/schema.ts";
import { CORE, fixture, WITH_CUSTOM } from "./fixtures.ts";

const byName = (inputs: TemplateInput[]) => Object.fromEntries(inputs.map((i) => [i.name, i]));

function refusal(run: () => unknown) {
  try {
    run();
  } catch (err) {
    return err as { status: number; code: string; param: string | null; message: string };
  }
  throw new Error("expected a refusal");
}

describe("input detection", () => {
  it("SD1.5 text-to-image (UI format): every named input once, typed from the specs, defaults from the workflow", () => {
    const t = buildTemplate(fixture("sd15-txt2img.ui.json"), undefined, CORE);
    const i = byName(t.inputs);
    expect(t.source).toBe("ui");
    expect(i.prompt).toMatchObject({
      from: ["6.text"],
      kind: "string",
      default: expect.stringContaining("purple galaxy"),
    });
    expect(i.negative_prompt).toMatchObject({ from: ["7.text"], default: "text, watermark" });
    // The seed was on "randomize": a new seed per run unless one is given.
    expect(i.seed).toMatchObject({ from: ["3.seed"], kind: "int", default: -1, seed: true, min: 0 });
    expect(t.workflow["3"]!.inputs.seed).toBe(-1);
    expect(i.steps).toMatchObject({ kind: "int", default: 20, min: 1, max: 10000 });
    expect(i.cfg).toMatchObject({ kind: "float", default: 8, step: 0.1 });
    expect(i.sampler_name!.options).toContain("euler_ancestral");
    expect(i.scheduler).toMatchObject({ kind: "enum", default: "normal" });
    expect(i.denoise).toMatchObject({ kind: "float", min: 0, max: 1 });
    expect(i.width).toMatchObject({ from: ["5.width"], default: 512, step: 8 });
    expect(i.batch_size).toMatchObject({ default: 1 });
    expect(i.checkpoint).toMatchObject({ kind: "file", default: "v1-5-pruned-emaonly-fp16.safetensors" });
    expect(i["9.filename_prefix"]).toMatchObject({ kind: "string", default: "ComfyUI" });
    expect(i["3.steps"]).toBeUndefined();
  });

  it("image-to-image: LoadImage's image is an `image` input (URL, data: or file:)", () => {
    const i = byName(buildTemplate(fixture("img2img.ui.json"), undefined, CORE).inputs);
    expect(i.image).toMatchObject({ from: ["18.image"], kind: "image", default: "example.png" });
    expect(i.scheduler!.default).toBe("simple");
  });

  it("SDXL base + refiner (API export): the prompt shared by both encoders; the zero-out path does not make it negative", () => {
    const t = buildTemplate(fixture("sdxl-refiner.api.json"), undefined, CORE);
    const i = byName(t.inputs);
    expect(t.source).toBe("api");
    expect(i.prompt).toMatchObject({ from: ["6.text", "17.text"], default: "a photo of a cat" });
    expect(i.negative_prompt).toMatchObject({ from: ["20.text"], default: "" });
    expect(i.seed).toMatchObject({ from: ["10.noise_seed", "14.noise_seed"], default: 42 });
    expect(i.steps!.from).toEqual(["10.steps", "14.steps"]);
    expect(i.checkpoint_4!.default).toBe("sd_xl_base_1.0.safetensors");
    expect(i.checkpoint_16!.default).toBe("sd_xl_refiner_1.0.safetensors");
    expect(i["10.end_at_step"]).toMatchObject({ kind: "int", default: 32 });
  });

  it("Flux: the prompt reaches the sampler through FluxGuidance; guidance is a named input", () => {
    const i = byName(buildTemplate(fixture("flux-guidance.ui.json"), undefined, CORE).inputs);
    expect(i.prompt!.from).toEqual(["6.text"]);
    expect(i.negative_prompt!.from).toEqual(["33.text"]);
    expect(i.guidance).toMatchObject({ from: ["35.guidance"], kind: "float", default: 3.5 });
  });

  it("LoRA chain: names and strengths per loader, suffixed by node id; nodes that never run are left out", () => {
    const i = byName(buildTemplate(fixture("sdxl-2lora-upscale.ui.json"), undefined, WITH_CUSTOM).inputs);
    expect(i.lora_24).toMatchObject({ kind: "file", default: "cyborg_style_xl-alpha.safetensors" });
    expect(i.lora_46).toMatchObject({ default: "Samaritan 3d Cartoon SDXL.safetensors" });
    expect(i.lora_strength_46).toMatchObject({ kind: "float", default: 0.48, min: -100, max: 100 });
    expect(i.lora_clip_strength_24!.default).toBe(0);
    const refiner = byName(
      buildTemplate(fixture("sdxl-refiner-primitive-reroute.ui.json"), undefined, WITH_CUSTOM).inputs,
    );
    // Seven EmptyLatentImage presets, one wired: only its size is an input.
    expect(refiner.width).toMatchObject({ from: ["31.width"], default: 1024 });
    expect(Object.keys(refiner).filter((n) => n.includes("width"))).toEqual(["width"]);
    expect(refiner.prompt!.from).toEqual(["6.text", "25.text"]);
  });
});

describe("author overrides", () => {
  const sd15 = () => fixture("sd15-txt2img.ui.json");

  it("rename, define with a default, share, hide", () => {
    const t = buildTemplate(
      sd15(),
      {
        text: "6.text",
        style: { from: "7.text", default: "blurry", description: "what to avoid" },
        both: { from: ["5.width", "5.height"], default: 768 },
        seed: false,
        "9.filename_prefix": { hidden: true },
      },
      CORE,
    );
    const i = byName(t.inputs);
    expect(i.text!.from).toEqual(["6.text"]);
    expect(i.prompt).toBeUndefined();
    expect(i.style).toMatchObject({ from: ["7.text"], default: "blurry", description: "what to avoid" });
    expect(i.negative_prompt).toBeUndefined();
    expect(i.both!.from).toEqual(["5.width", "5.height"]);
    expect(i.width).toBeUndefined();
    expect(t.workflow["5"]!.inputs).toMatchObject({ width: 768, height: 768 });
    expect(t.workflow["7"]!.inputs.text).toBe("blurry");
    expect(i.seed!.hidden).toBe(true);
    const schema = inputsSchema(t.inputs) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).not.toContain("seed");
    expect(Object.keys(schema.properties)).not.toContain("9.filename_prefix");
  });

  it("refuses overrides that name nothing, mix types or give a bad default, naming inputs.<name>", () => {
    expect(refusal(() => buildTemplate(sd15(), { p: "66.text" }, CORE))).toMatchObject({
      status: 422,
      code: "invalid_template_input",
      param: "inputs.p.from",
      message: expect.stringContaining("no node '66'"),
    });
    expect(refusal(() => buildTemplate(sd15(), { p: { from: ["6.text", "3.clip"] } }, CORE))).toMatchObject({
      param: "inputs.p.from[1]",
    });
    expect(refusal(() => buildTemplate(sd15(), { mixed: ["6.text", "3.steps"] }, CORE))).toMatchObject({
      param: "inputs.mixed.from",
    });
    expect(refusal(() => buildTemplate(sd15(), { steps: { default: 0 } }, CORE))).toMatchObject({
      status: 422,
      code: "invalid_input",
      param: "inputs.steps.default",
    });
    expect(refusal(() => buildTemplate(sd15(), { nothing: false }, CORE))).toMatchObject({ param: "inputs.nothing" });
  });
});

describe("JSON Schema and run inputs", () => {
  const t = buildTemplate(fixture("sd15-txt2img.ui.json"), undefined, CORE);

  it("the schema is valid draft 2020-12 and accepts the example request and refuses what the checks refuse", () => {
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(inputsSchema(t.inputs));
    expect(validate(exampleRun(t.inputs).inputs)).toBe(true);
    expect(validate({ prompt: "a cat", seed: -1, sampler_name: "dpmpp_2m", "9.filename_prefix": "x" })).toBe(true);
    expect(validate({ sampler_name: "nope" })).toBe(false);
    expect(validate({ steps: "20" })).toBe(false);
    expect(validate({ denoise: 2 })).toBe(false);
    expect(validate({ colour: "red" })).toBe(false);
  });

  it("run inputs: 400 for a wrong type, 422 for a range, an enum or an unknown name; param inputs.<name>", () => {
    expect(refusal(() => checkRunInputs(t.inputs, { steps: "20" }))).toMatchObject({
      status: 400,
      code: "invalid_request",
      param: "inputs.steps",
      message: 'inputs.steps: expected an integer, got string "20".',
    });
    expect(refusal(() => checkRunInputs(t.inputs, { cfg: 101 }))).toMatchObject({ status: 422, param: "inputs.cfg" });
    expect(refusal(() => checkRunInputs(t.inputs, { seed: -2 }))).toMatchObject({ status: 422, param: "inputs.seed" });
    expect(refusal(() => checkRunInputs(t.inputs, { sampler_name: "euler_x" }))).toMatchObject({
      status: 422,
      code: "invalid_input",
      param: "inputs.sampler_name",
    });
    expect(refusal(() => checkRunInputs(t.inputs, { colour: "red" }))).toMatchObject({
      status: 422,
      code: "unknown_input",
      param: "inputs.colour",
    });
    const img = buildTemplate(fixture("img2img.ui.json"), undefined, CORE);
    expect(refusal(() => checkRunInputs(img.inputs, { image: "/etc/passwd" }))).toMatchObject({
      status: 422,
      param: "inputs.image",
    });
  });

  it("applies given values to every node an input sets, and only those", () => {
    const sdxl = buildTemplate(fixture("sdxl-refiner.api.json"), undefined, CORE);
    const values = checkRunInputs(sdxl.inputs, { prompt: "a red fox", seed: 7, "10.end_at_step": 30 });
    const graph: Workflow = applyInputs(sdxl.workflow, sdxl.inputs, values);
    expect(graph["6"]!.inputs.text).toBe("a red fox");
    expect(graph["17"]!.inputs.text).toBe("a red fox");
    expect(graph["20"]!.inputs.text).toBe("");
    expect([graph["10"]!.inputs.noise_seed, graph["14"]!.inputs.noise_seed]).toEqual([7, 7]);
    expect(graph["10"]!.inputs.end_at_step).toBe(30);
    expect(sdxl.workflow["6"]!.inputs.text).toBe("a photo of a cat");
  });
});
