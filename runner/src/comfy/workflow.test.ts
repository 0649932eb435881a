import type { Workflow } from "@comfy-edge/shared/contract/jobs";
import { describe, expect, it } from "vitest";
import { clientPrefix, inputFileName, newRunFolder, rewriteWorkflow, WorkflowRewriteError } from "./workflow.ts";

const WORKFLOW: Workflow = {
  "3": {
    class_type: "KSampler",
    inputs: {
      seed: -1,
      steps: 20,
      cfg: 7,
      model: ["4", 0],
      positive: ["6", 0],
      negative: ["7", 0],
      latent_image: ["5", 0],
    },
  },
  "10": { class_type: "LoadImage", inputs: { image: "input:10" } },
  "11": { class_type: "LoadImageMask", inputs: { image: "input:11", channel: "alpha" } },
  "12": { class_type: "KSamplerAdvanced", inputs: { noise_seed: -1, start_at_step: 0 } },
  "13": { class_type: "RandomNoise", inputs: { noise_seed: 42 } },
  "14": { class_type: "Custom", inputs: { control_seed: -1, seed_mode: -1, note: "input:10" } },
  "9": { class_type: "SaveImage", inputs: { images: ["8", 0], filename_prefix: "../../etc/evil" } },
  "20": { class_type: "SaveAnimatedWEBP", inputs: { images: ["8", 0], filename_prefix: "ComfyUI", fps: 6 } },
  "4:7": { class_type: "VHS_VideoCombine", inputs: { images: ["8", 0], filename_prefix: "video/clip" } },
  "21": { class_type: "SaveAudio", inputs: { audio: ["8", 0] } },
  "22": { class_type: "SaveImage", inputs: { images: ["8", 0], filename_prefix: ["30", 0] } },
};

const INPUTS = new Map([
  ["10", { name: "job_abc-10.png", subfolder: "" }],
  ["11", { name: "job_abc-11 (1).png", subfolder: "sub" }],
]);

describe("rewriteWorkflow", () => {
  it("puts uploaded names into LoadImage inputs, the run's folder plus the client's prefix into every output node, random seeds for -1", () => {
    let n = 100;
    const { workflow, prefixes, seeds } = rewriteWorkflow(WORKFLOW, {
      runFolder: "comfy-edge/r1",
      prefixNodes: new Set(["21", "9", "404"]),
      inputs: INPUTS,
      randomSeed: () => n++,
    });
    expect(workflow["10"]!.inputs.image).toBe("job_abc-10.png");
    expect(workflow["11"]!.inputs.image).toBe("sub/job_abc-11 (1).png");
    expect(workflow["9"]!.inputs.filename_prefix).toBe("comfy-edge/r1/etc_evil");
    expect(workflow["20"]!.inputs.filename_prefix).toBe("comfy-edge/r1/ComfyUI");
    expect(workflow["4:7"]!.inputs.filename_prefix).toBe("comfy-edge/r1/video_clip");
    // Left out by the client (its schema has one): ComfyUI's default name, in the run's folder.
    expect(workflow["21"]!.inputs.filename_prefix).toBe("comfy-edge/r1/ComfyUI");
    // A link would let another node choose the path: replaced by a literal.
    expect(workflow["22"]!.inputs.filename_prefix).toBe("comfy-edge/r1/ComfyUI");
    expect(workflow["404"]).toBeUndefined();
    expect(prefixes).toEqual({
      "9": "comfy-edge/r1/etc_evil",
      "20": "comfy-edge/r1/ComfyUI",
      "4:7": "comfy-edge/r1/video_clip",
      "21": "comfy-edge/r1/ComfyUI",
      "22": "comfy-edge/r1/ComfyUI",
    });
    expect(workflow["3"]!.inputs.seed).toBe(100);
    expect(workflow["12"]!.inputs.noise_seed).toBe(101);
    expect(workflow["14"]!.inputs.control_seed).toBe(102);
    expect(seeds).toEqual({ "3": { seed: 100 }, "12": { noise_seed: 101 }, "14": { control_seed: 102 } });
    // Untouched: explicit seeds, other -1 values, links, text that merely looks like a reference.
    expect(workflow["13"]!.inputs.noise_seed).toBe(42);
    expect(workflow["14"]!.inputs.seed_mode).toBe(-1);
    expect(workflow["14"]!.inputs.note).toBe("input:10");
    expect(workflow["3"]!.inputs.model).toEqual(["4", 0]);
    // The stored workflow is not modified.
    expect(WORKFLOW["9"]!.inputs.filename_prefix).toBe("../../etc/evil");
    expect(WORKFLOW["3"]!.inputs.seed).toBe(-1);
  });

  it("draws default seeds in ComfyUI's range", () => {
    const { workflow, seeds } = rewriteWorkflow(
      { "1": { class_type: "KSampler", inputs: { seed: -1 } } },
      { runFolder: "comfy-edge/r", inputs: new Map() },
    );
    const seed = workflow["1"]!.inputs.seed as number;
    expect(Number.isSafeInteger(seed)).toBe(true);
    // The default source draws from [0, 2^48): both bounds (a -1 left in place fails the lower one).
    expect(seed).toBeGreaterThanOrEqual(0);
    expect(seed).toBeLessThan(2 ** 48);
    expect(seeds).toEqual({ "1": { seed } });
  });

  it("gives every run its own random folder, and keeps the client's prefix flat and safe", () => {
    expect(newRunFolder()).toMatch(/^comfy-edge\/[0-9a-f]{24}$/);
    expect(newRunFolder()).not.toBe(newRunFolder());
    expect(clientPrefix("portrait")).toBe("portrait");
    expect(clientPrefix("my portraits/alice")).toBe("my_portraits_alice");
    expect(clientPrefix("../..")).toBe("ComfyUI");
    expect(clientPrefix("")).toBe("ComfyUI");
    expect(clientPrefix(7)).toBe("ComfyUI");
    expect(clientPrefix("x".repeat(200))).toHaveLength(64);
  });

  it("refuses a reference to an input the lease did not provide, naming the node", () => {
    expect(() => rewriteWorkflow(WORKFLOW, { runFolder: "comfy-edge/r", inputs: new Map() })).toThrow(
      WorkflowRewriteError,
    );
    try {
      rewriteWorkflow(WORKFLOW, { runFolder: "comfy-edge/r", inputs: new Map() });
    } catch (err) {
      expect((err as WorkflowRewriteError).nodeId).toBe("10");
      expect((err as WorkflowRewriteError).message).toContain("Node 10 (LoadImage)");
    }
  });
});

describe("inputFileName", () => {
  it("adds an image extension ComfyUI recognises and keeps names safe", () => {
    expect(inputFileName("abc-10", "image/png")).toBe("abc-10.png");
    expect(inputFileName("abc-10", "image/jpeg")).toBe("abc-10.jpg");
    expect(inputFileName("abc-10", "image/webp; charset=binary")).toBe("abc-10.webp");
    expect(inputFileName("abc-10", null)).toBe("abc-10.png");
    expect(inputFileName("photo.JPG", "image/png")).toBe("photo.JPG");
    expect(inputFileName("../../x y", "image/gif")).toBe(".._.._x_y.gif");
  });
});
