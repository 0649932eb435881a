/** Capability reports from the real 0.33 /object_info, and the submit-time check against a pool's union. */

import { buildReport, canonicalJson, reportDigest } from "@comfy-edge/shared/capabilities/build";
import { CapabilityReport } from "@comfy-edge/shared/contract/runner";
import { ApiError } from "@comfy-edge/shared/errors";
import { describe, expect, it } from "vitest";
import { checkAgainstPool } from "../../workers/gateway/src/capabilities/check.ts";
import { CapIndex, unionReports } from "../../workers/gateway/src/capabilities/union.ts";
import { objectInfo033, report033, txt2img } from "./fixtures.ts";

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("capability report from the real ComfyUI 0.33 /object_info", () => {
  const report = report033();

  it("has every class, the input specs and the model folders, and parses with the contract", () => {
    expect(Object.keys(report.node_classes)).toHaveLength(886);
    expect(CapabilityReport.safeParse(report).success).toBe(true);
    const ks = report.node_classes.KSampler!.inputs;
    expect(ks.steps).toEqual({ type: "INT", min: 1, max: 10000 });
    expect(ks.sampler_name!.options).toContain("dpmpp_2m");
    expect(ks.model).toEqual({ type: "MODEL" });
    expect(report.node_classes.CheckpointLoaderSimple!.inputs.ckpt_name).toEqual({
      type: "COMBO",
      folder: "checkpoints",
    });
    expect(report.node_classes.LoadImage!.inputs.image).toEqual({ type: "COMBO", files: true });
    expect(report.node_classes.SaveImage!.output_node).toBe(true);
    // The recorded server's own checkpoint list joins the folder the runner listed.
    expect(report.models.checkpoints).toContain("sd15.safetensors");
    expect(report.gpu).toEqual({ name: "cuda:0 NVIDIA L4", vram_bytes: 24 * 2 ** 30 });
    expect(report.comfyui_version).toBe("0.33.0");
  });

  it("never carries host paths", () => {
    expect(canonicalJson(report)).not.toMatch(/\/root\/|\/home\/|[A-Z]:\\\\/);
  });

  it("digest: one per content, whatever the key order", async () => {
    const reversed = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reversed)
        : v && typeof v === "object"
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reversed(x)]),
            )
          : v;
    const shuffled = reversed(report) as typeof report;
    expect(JSON.stringify(shuffled)).not.toBe(JSON.stringify(report));
    expect(await reportDigest(shuffled)).toBe(await reportDigest(report));
    expect(await reportDigest(report033({ checkpoints: ["other.safetensors"] }))).not.toBe(await reportDigest(report));
  });

  it("a server without /models: model folders from the loaders' combo lists", () => {
    const r = buildReport({ objectInfo: objectInfo033(), models: null, systemStats: null, slots: 1 });
    expect(r.models.checkpoints!.length).toBeGreaterThan(0);
    expect(r.gpu).toBeNull();
  });
});

describe("checkAgainstPool (the pool's union)", () => {
  const index = new CapIndex(unionReports([report033(), report033({ loras: ["detail.safetensors"] })]));

  it("accepts a valid txt2img graph and says what it needs", () => {
    const needs = checkAgainstPool(txt2img(), index);
    expect(needs.models).toEqual([{ folder: "checkpoints", name: "sd15.safetensors" }]);
    expect(needs.node_classes).toContain("KSampler");
  });

  it("unknown class_type -> 422 unknown_node_class naming the node, with the closest classes", () => {
    const wf = txt2img();
    wf["3"]!.class_type = "KSamplr";
    const err = refusal(() => checkAgainstPool(wf, index));
    expect([err.status, err.code, err.param]).toEqual([422, "unknown_node_class", "workflow.3.class_type"]);
    expect(err.message).toContain("'KSampler'");
  });

  it("a model no runner has -> 422 model_not_available with the closest names", () => {
    const err = refusal(() => checkAgainstPool(txt2img("sd15.safetensor"), index));
    expect([err.status, err.code, err.param]).toEqual([422, "model_not_available", "workflow.4.inputs.ckpt_name"]);
    expect(err.message).toContain("'sd15.safetensors'");
    expect(err.details).toMatchObject({ folder: "checkpoints" });
  });

  it.each([
    ["3", "sampler_name", "euler_fast", /one of the/],
    ["3", "scheduler", "karas", /'karras'/],
    ["3", "denoise", 1.5, /at most 1/],
    ["3", "steps", 0, /at least 1/],
    ["3", "steps", 2.5, /an integer/],
    ["3", "cfg", "7", /a number/],
    ["5", "width", 500, /multiple of 8/],
    ["6", "text", 42, /a string/],
    ["3", "model", "sd15", /a link/],
  ])("node %s input %s = %j -> 422 invalid_input_value naming it", (node, input, value, message) => {
    const wf = txt2img();
    wf[node]!.inputs[input] = value;
    const err = refusal(() => checkAgainstPool(wf, index));
    expect([err.status, err.code, err.param]).toEqual([422, "invalid_input_value", `workflow.${node}.inputs.${input}`]);
    expect(err.message).toMatch(message);
  });

  it("a required input left out -> 422 missing_input", () => {
    const wf = txt2img();
    delete wf["3"]!.inputs.steps;
    const err = refusal(() => checkAgainstPool(wf, index));
    expect([err.code, err.param]).toEqual(["missing_input", "workflow.3.inputs.steps"]);
  });

  it("a seed given as -1 (the runner picks one) and a missing filename_prefix (the runner sets it) pass", () => {
    const wf = txt2img();
    wf["3"]!.inputs.seed = -1;
    delete wf["9"]!.inputs.filename_prefix;
    expect(() => checkAgainstPool(wf, index)).not.toThrow();
    // Only -1 asks for a random seed, and only on seed inputs.
    wf["3"]!.inputs.seed = -2;
    expect(refusal(() => checkAgainstPool(wf, index)).param).toBe("workflow.3.inputs.seed");
    wf["3"]!.inputs.seed = 1;
    wf["3"]!.inputs.steps = -1;
    expect(refusal(() => checkAgainstPool(wf, index)).param).toBe("workflow.3.inputs.steps");
  });

  it("links pass for any input; image URLs pass the file picker", () => {
    const wf = txt2img();
    wf["3"]!.inputs.steps = ["5", 0];
    wf["10"] = { class_type: "LoadImage", inputs: { image: "https://example.com/cat.png" } };
    expect(() => checkAgainstPool(wf, index)).not.toThrow();
  });

  it("the union: a LoRA one runner has is available", () => {
    const wf = txt2img();
    wf["11"] = {
      class_type: "LoraLoader",
      inputs: { lora_name: "detail.safetensors", strength_model: 1, strength_clip: 1, model: ["4", 0], clip: ["4", 1] },
    };
    expect(checkAgainstPool(wf, index).models).toContainEqual({ folder: "loras", name: "detail.safetensors" });
  });
});
