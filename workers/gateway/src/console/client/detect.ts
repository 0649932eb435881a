/**
 * Editable inputs of a pasted API-format workflow, as a JSON Schema plus where each value goes
 * (`node.input`): prompts of CLIPTextEncode, the sampler's settings, the latent size. A browser-side
 * convenience only; templates (GET /v1/templates) detect inputs on the server with the pools' node specs.
 */
import type { ObjectSchema, PropSchema } from "./schema-form.ts";

type Workflow = Record<string, { class_type?: string; inputs?: Record<string, unknown> }>;

/** Ranges of ComfyUI's own input specs (nodes.py) for the inputs detected here. */
const SPECS: Record<string, PropSchema> = {
  seed: { type: "integer", minimum: -1, maximum: 2 ** 53 - 1, description: "-1 lets the runner pick one" },
  noise_seed: { type: "integer", minimum: -1, maximum: 2 ** 53 - 1 },
  steps: { type: "integer", minimum: 1, maximum: 10000 },
  cfg: { type: "number", minimum: 0, maximum: 100, multipleOf: 0.1 },
  denoise: { type: "number", minimum: 0, maximum: 1, multipleOf: 0.01 },
  width: { type: "integer", minimum: 16, maximum: 16384, multipleOf: 8 },
  height: { type: "integer", minimum: 16, maximum: 16384, multipleOf: 8 },
  batch_size: { type: "integer", minimum: 1, maximum: 4096 },
};

const SAMPLERS = new Set(["KSampler", "KSamplerAdvanced"]);
const LATENTS = /^Empty.*LatentImage$/;

export interface Detected {
  schema: ObjectSchema;
  /** Input name -> [node id, input name]. */
  targets: Record<string, [string, string]>;
}

export function detectInputs(workflow: Workflow): Detected {
  const properties: Record<string, PropSchema> = {};
  const targets: Record<string, [string, string]> = {};
  const add = (name: string, node: string, input: string, spec: PropSchema, value: unknown) => {
    const unique = name in properties ? `${name}_${node}` : name;
    properties[unique] = { ...spec, default: value, description: spec.description ?? `${node}.${input}` };
    targets[unique] = [node, input];
  };
  // Which text encoders feed a sampler's negative input.
  const negative = new Set<string>();
  for (const node of Object.values(workflow)) {
    const link = SAMPLERS.has(node.class_type ?? "") ? node.inputs?.negative : undefined;
    if (Array.isArray(link) && typeof link[0] === "string") negative.add(link[0]);
  }
  for (const [id, node] of Object.entries(workflow)) {
    const inputs = node.inputs ?? {};
    const type = node.class_type ?? "";
    if (type === "LoadImage" && typeof inputs.image === "string") {
      add(
        "image",
        id,
        "image",
        { type: "string", description: "https:// URL, data:image/... URL or file:<id>" },
        inputs.image,
      );
    } else if (type === "CLIPTextEncode" && typeof inputs.text === "string") {
      add(
        negative.has(id) ? "negative_prompt" : "prompt",
        id,
        "text",
        { type: "string", format: "textarea" },
        inputs.text,
      );
    } else if (SAMPLERS.has(type) || LATENTS.test(type)) {
      for (const [input, value] of Object.entries(inputs)) {
        const spec = SPECS[input];
        if (spec && typeof value === "number") add(input, id, input, spec, value);
        else if ((input === "sampler_name" || input === "scheduler") && typeof value === "string") {
          add(input, id, input, { type: "string" }, value);
        }
      }
    }
  }
  return { schema: { type: "object", properties }, targets };
}

/** A copy of the workflow with the form's values written to their nodes. */
export function applyInputs(workflow: Workflow, d: Detected, values: Record<string, unknown>): Workflow {
  const copy = structuredClone(workflow);
  for (const [name, value] of Object.entries(values)) {
    const target = d.targets[name];
    const node = target ? copy[target[0]] : undefined;
    if (target && node?.inputs) node.inputs[target[1]] = value;
  }
  return copy;
}
