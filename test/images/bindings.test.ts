/** OpenAI parameters -> template inputs (pure): derived bindings, overrides, size on the grid, quality. */
import { describe, expect, it } from "vitest";
import { bindValues, deriveBindings, snap } from "../../workers/gateway/src/images/bindings.ts";
import { buildTemplate } from "../../workers/gateway/src/templates/build.ts";
import { EDIT4, T2I } from "./fixtures.ts";

const t2i = buildTemplate(T2I, undefined);
const edit = buildTemplate(EDIT4, undefined);

describe("image bindings", () => {
  it("derives prompt, size, n, steps and seed from the detected inputs", () => {
    const b = deriveBindings(t2i.inputs, {}, t2i.workflow);
    expect([b.prompt?.name, b.width?.name, b.height?.name, b.n?.name, b.steps?.name, b.seed?.name]).toEqual([
      "prompt",
      "width",
      "height",
      "batch_size",
      "steps",
      "seed",
    ]);
    expect(b.image).toEqual([]);
  });

  it("four image inputs in graph order and the LoadImageMask input as the mask", () => {
    const b = deriveBindings(edit.inputs, {}, edit.workflow);
    expect(b.image.map((i) => i.from[0])).toEqual(["10.image", "11.image", "12.image", "13.image"]);
    expect(b.mask?.from).toEqual(["14.image"]);
  });

  it("an override by name or node.input wins; an unknown one is a 422 naming the binding", () => {
    const b = deriveBindings(t2i.inputs, { prompt: "negative_prompt", steps: "3.cfg" }, t2i.workflow);
    expect(b.prompt?.name).toBe("negative_prompt");
    expect(b.steps?.name).toBe("cfg");
    expect(() => deriveBindings(t2i.inputs, { mask: "nope" })).toThrow(/images_bindings\.mask/);
  });

  it("size snaps to the input's step within its range; quality scales the default steps", () => {
    const width = t2i.inputs.find((i) => i.name === "width")!;
    expect([snap(width, 300), snap(width, 1), snap(width, 1e9)]).toEqual([304, 16, 16384]);
    const b = deriveBindings(t2i.inputs, {}, t2i.workflow);
    const low = bindValues(b, { prompt: "p", size: "300x203", quality: "low", images: [] });
    expect(low).toMatchObject({ prompt: "p", width: 304, height: 200, steps: 10 });
    expect(bindValues(b, { prompt: "p", quality: "high", images: [] }).steps).toBe(30);
    expect(() => bindValues(b, { prompt: "p", images: ["data:image/png;base64,AA"] })).toThrow(/no input images/);
  });

  it("one image fills every image input; the mask defaults to the first image", () => {
    const b = deriveBindings(edit.inputs, {}, edit.workflow);
    const v = bindValues(b, { prompt: "p", images: ["A", "B"] });
    expect(b.image.map((i) => v[i.name])).toEqual(["A", "B", "B", "B"]);
    expect(v[b.mask!.name]).toBe("A");
    expect(() => bindValues(b, { prompt: "p", images: ["1", "2", "3", "4", "5"] })).toThrow(/at most 4/);
  });
});
