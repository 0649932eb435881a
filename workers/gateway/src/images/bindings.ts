/**
 * Which template input each OpenAI Images parameter sets (pure, docs/images.md): derived from the
 * template's detected inputs (`prompt`, `width`, `height`, `batch_size` for n, `steps` for quality, `seed`,
 * up to 4 image inputs, an image input named like a mask), each overridable by the author's
 * `images_bindings`; and the OpenAI values turned into template input values.
 */

import type { Workflow } from "@comfy-edge/shared/contract";
import type { ImagesBindings } from "@comfy-edge/shared/contract/templates";
import { ApiError } from "@comfy-edge/shared/errors";
import type { InputValue, TemplateInput } from "../templates/detect.ts";

export interface Bindings {
  prompt?: TemplateInput;
  width?: TemplateInput;
  height?: TemplateInput;
  n?: TemplateInput;
  steps?: TemplateInput;
  seed?: TemplateInput;
  image: TemplateInput[];
  mask?: TemplateInput;
}

const MAX_IMAGES = 4;

/** An image input is a mask by its name or by the class of the node it loads into (LoadImageMask). */
function maskTest(workflow: Workflow | undefined) {
  return (i: TemplateInput) =>
    /mask/i.test(i.name) ||
    i.from.some((f) => /mask/i.test(workflow?.[f.slice(0, f.lastIndexOf("."))]?.class_type ?? ""));
}

export function deriveBindings(inputs: TemplateInput[], overrides: ImagesBindings = {}, workflow?: Workflow): Bindings {
  const isMask = maskTest(workflow);
  const visible = inputs.filter((i) => !i.hidden);
  const byName = new Map(visible.map((i) => [i.name, i]));
  const named = (name: string) => byName.get(name);
  const pick = (param: string, name: string): TemplateInput => {
    const input = byName.get(name) ?? visible.find((i) => i.from.includes(name));
    if (!input) {
      throw new ApiError(
        422,
        "invalid_images_binding",
        `images_bindings.${param}: the template has no visible input '${name.slice(0, 80)}'. Its inputs: ${visible.map((i) => i.name).join(", ")}.`,
        { param: `images_bindings.${param}` },
      );
    }
    return input;
  };
  const one = (param: keyof ImagesBindings, fallback: TemplateInput | undefined) => {
    const o = overrides[param];
    if (o === undefined) return fallback;
    return pick(param, Array.isArray(o) ? o[0]! : o);
  };
  const images = visible.filter((i) => i.kind === "image" && !isMask(i)).slice(0, MAX_IMAGES);
  const imageOverride = overrides.image;
  const prompt =
    named("prompt") ?? visible.find((i) => i.kind === "string" && i.multiline && !/negative/i.test(i.name));
  return {
    prompt: one("prompt", prompt),
    width: one("width", named("width")),
    height: one("height", named("height")),
    n: one("n", named("batch_size")),
    steps: one("steps", named("steps")),
    seed: one("seed", visible.find((i) => i.seed && i.name === "seed") ?? visible.find((i) => i.seed)),
    image:
      imageOverride === undefined
        ? images
        : (Array.isArray(imageOverride) ? imageOverride : [imageOverride]).map((n) => pick("image", n)),
    mask: one(
      "mask",
      visible.find((i) => i.kind === "image" && isMask(i)),
    ),
  };
}

/** `value` on the input's grid (multiple of its step from its min) and inside its range. */
export function snap(input: TemplateInput, value: number): number {
  const step = input.step && input.step > 0 ? input.step : 1;
  const base = input.min ?? 0;
  let v = base + Math.round((value - base) / step) * step;
  if (input.min !== undefined && v < input.min) v = input.min;
  if (input.max !== undefined && v > input.max) v = base + Math.floor((input.max - base) / step) * step;
  return input.kind === "int" ? Math.round(v) : v;
}

const QUALITY_FACTOR: Record<string, number> = { low: 0.5, medium: 1, standard: 1, auto: 1, high: 1.5, hd: 1.5 };

export interface ImageParams {
  prompt: string;
  size?: string;
  quality?: string;
  seed?: number;
  /** Images in the batch (set when the template has a batch size input). */
  batch?: number;
  images: string[];
  mask?: string;
}

/** Template input values for one run from the OpenAI parameters. */
export function bindValues(b: Bindings, p: ImageParams): Record<string, InputValue> {
  const out: Record<string, InputValue> = {};
  if (!b.prompt) {
    throw new ApiError(422, "unsupported_template", "This image model's template has no prompt input to bind.", {
      param: "model",
    });
  }
  out[b.prompt.name] = p.prompt;
  if (p.size && p.size !== "auto") {
    const m = /^(\d{1,5})x(\d{1,5})$/.exec(p.size);
    if (!m) {
      throw new ApiError(
        400,
        "invalid_value",
        `size: expected "WIDTHxHEIGHT" (e.g. "1024x1024") or "auto", got "${p.size.slice(0, 40)}".`,
        {
          param: "size",
        },
      );
    }
    if (!b.width || !b.height) {
      throw new ApiError(
        400,
        "unsupported_parameter",
        'size: this image model\'s template has no width and height inputs; leave size out or use "auto".',
        {
          param: "size",
        },
      );
    }
    out[b.width.name] = snap(b.width, Number(m[1]));
    out[b.height.name] = snap(b.height, Number(m[2]));
  }
  if (p.quality && b.steps && typeof b.steps.default === "number") {
    const factor = QUALITY_FACTOR[p.quality] ?? 1;
    out[b.steps.name] = snap(b.steps, Math.max(1, Math.round(b.steps.default * factor)));
  }
  if (p.seed !== undefined) {
    if (!b.seed)
      throw new ApiError(400, "unsupported_parameter", "seed: this image model's template has no seed input.", {
        param: "seed",
      });
    out[b.seed.name] = p.seed;
  }
  if (p.batch !== undefined && b.n) out[b.n.name] = snap(b.n, p.batch);
  if (p.images.length > b.image.length) {
    throw new ApiError(
      400,
      b.image.length === 0 ? "unsupported_parameter" : "too_many_images",
      `image: this image model takes ${b.image.length === 0 ? "no input images (use /v1/images/generations)" : `at most ${b.image.length} image(s)`}; ${p.images.length} came.`,
      { param: "image" },
    );
  }
  // Fewer images than the template's image inputs: the last one fills the rest (an edit of one image
  // on a composition template); a mask input left without a mask takes the first image.
  if (p.images.length > 0) {
    b.image.forEach((input, i) => {
      out[input.name] = p.images[Math.min(i, p.images.length - 1)]!;
    });
  }
  if (p.mask !== undefined) {
    if (!b.mask)
      throw new ApiError(400, "unsupported_parameter", "mask: this image model's template has no mask input.", {
        param: "mask",
      });
    out[b.mask.name] = p.mask;
  } else if (b.mask && p.images.length > 0) out[b.mask.name] = p.images[0]!;
  return out;
}
