import type { JsonValue } from "@comfy-edge/shared/contract";
import { describe, expect, it } from "vitest";
import { expectedOutputs, PREMINT_MAX } from "./expected-outputs.ts";

const node = (class_type: string, inputs: Record<string, JsonValue> = {}) => ({ class_type, inputs });

describe("expectedOutputs", () => {
  it("counts saving nodes times the largest batch size", () => {
    const wf = {
      "1": node("EmptyLatentImage", { width: 512, height: 512, batch_size: 3 }),
      "2": node("SaveImage", { filename_prefix: "a", images: ["1", 0] }),
      "3": node("SaveAnimatedWEBP", { images: ["1", 0] }),
      "4": node("PreviewImage", { images: ["1", 0] }),
    };
    expect(expectedOutputs(wf)).toBe(6);
  });

  it("counts previews only when nothing saves, and at least one", () => {
    expect(expectedOutputs({ "1": node("PreviewImage"), "2": node("PreviewImage") })).toBe(2);
    expect(expectedOutputs({ "1": node("EmptyImage", { batch_size: 4 }) })).toBe(1);
    expect(expectedOutputs({ "1": node("ImageInvert") })).toBe(1);
  });

  it("is capped, and ignores a batch size that is a link", () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [String(i), node("SaveImage")]));
    expect(expectedOutputs(many)).toBe(PREMINT_MAX);
    expect(expectedOutputs(many, 5)).toBe(5);
    expect(expectedOutputs({ "1": node("SaveImage", { batch_size: ["2", 0] }) })).toBe(1);
  });
});
