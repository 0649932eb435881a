/**
 * A template's inputs as JSON Schema (draft 2020-12), the checks a run's `inputs` get (400 for a wrong
 * JSON type, 422 for a value out of range, not in the enum or not an input; `param` is `inputs.<name>`),
 * and the graph a run queues (pure).
 */
import type { Workflow } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import type { InputValue, TemplateInput } from "./detect.ts";

const JSON_TYPE = { int: "integer", float: "number", boolean: "boolean" } as const;
const IMAGE_REF = /^(https?:\/\/|data:|file:)/i;
const MAX_STRING = 100_000;

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function got(value: unknown): string {
  const type = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  return `${type} ${shown(value)}`;
}

/** Checks one value against its input; returns it, or throws naming `param`. `typeStatus`: 400 at run, 422 at create. */
export function checkValue(input: TemplateInput, value: unknown, param: string, typeStatus = 400): InputValue {
  const wrong = (expected: string) =>
    new ApiError(
      typeStatus,
      typeStatus === 400 ? "invalid_request" : "invalid_template_input",
      `${param}: expected ${expected}, got ${got(value)}.`,
      { param },
    );
  const refuse = (message: string) => new ApiError(422, "invalid_input", `${param}: ${message}`, { param });
  switch (input.kind) {
    case "int":
    case "float": {
      if (typeof value !== "number" || !Number.isFinite(value) || (input.kind === "int" && !Number.isInteger(value)))
        throw wrong(input.kind === "int" ? "an integer" : "a number");
      if (input.seed && value === -1) return value;
      if (input.min !== undefined && value < input.min)
        throw refuse(`${value} is below the minimum ${input.min}${input.seed ? " (-1: a random seed)" : ""}.`);
      if (input.max !== undefined && value > input.max) throw refuse(`${value} is above the maximum ${input.max}.`);
      return value;
    }
    case "boolean":
      if (typeof value !== "boolean") throw wrong("true or false");
      return value;
    case "enum":
      if (typeof value !== "string") throw wrong("a string");
      if (input.options && !input.options.includes(value)) {
        const list = input.options.slice(0, 20).map((o) => JSON.stringify(o));
        throw refuse(`${shown(value)} is not one of ${list.join(", ")}${input.options.length > 20 ? ", ..." : ""}.`);
      }
      return value;
    default:
      if (typeof value !== "string") throw wrong("a string");
      if (value.length > MAX_STRING) throw refuse(`longer than ${MAX_STRING} characters.`);
      if (input.kind === "image" && !IMAGE_REF.test(value))
        throw refuse(
          `expected an https:// URL, a data:image/... URL or file:<id> from POST /v1/files, got ${shown(value)}.`,
        );
      return value;
  }
}

/** JSON Schema (2020-12) of a run's `inputs`: one property per visible input. */
export function inputsSchema(inputs: TemplateInput[]): Record<string, unknown> {
  const properties: Record<string, Record<string, unknown>> = {};
  for (const input of inputs) {
    if (input.hidden) continue;
    const p: Record<string, unknown> = { type: JSON_TYPE[input.kind as keyof typeof JSON_TYPE] ?? "string" };
    if (input.kind === "int" || input.kind === "float") {
      const min = input.seed && input.min !== undefined ? Math.min(input.min, -1) : input.min;
      if (min !== undefined) p.minimum = min;
      if (input.max !== undefined && Number.isSafeInteger(input.max)) p.maximum = input.max;
      else if (input.max !== undefined && input.kind === "float") p.maximum = input.max;
    }
    if (input.kind === "enum" && input.options) p.enum = input.options;
    if (input.kind === "image") p.description = "https:// URL, data:image/... URL or file:<id> from POST /v1/files";
    else if (input.kind === "string") p.maxLength = MAX_STRING;
    const notes = [input.description, input.seed ? "-1: the runner picks a random seed" : undefined].filter(Boolean);
    if (notes.length > 0) p.description = [p.description, ...notes].filter(Boolean).join("; ");
    p.default = input.default;
    p["x-comfy-from"] = input.from;
    properties[input.name] = p;
  }
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "object",
    properties,
    additionalProperties: false,
  };
}

/** Checks a run's `inputs`; returns the values given, by input name. */
export function checkRunInputs(inputs: TemplateInput[], given: Record<string, unknown>): Record<string, InputValue> {
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const out: Record<string, InputValue> = {};
  for (const [name, value] of Object.entries(given)) {
    const input = byName.get(name);
    const param = `inputs.${name}`;
    if (!input || input.hidden) {
      const visible = inputs.filter((i) => !i.hidden && !i.name.includes(".")).map((i) => i.name);
      throw new ApiError(
        422,
        "unknown_input",
        `${param}: this template has no input '${name.slice(0, 80)}'${input?.hidden ? " (hidden by its author)" : ""}. Its named inputs: ${visible.join(", ") || "none"}; others are "<node>.<input>" (GET /v1/templates/:name lists them).`,
        { param },
      );
    }
    out[name] = checkValue(input, value, param);
  }
  return out;
}

/** The graph with the given values set (the stored graph holds every default already). */
export function applyInputs(workflow: Workflow, inputs: TemplateInput[], values: Record<string, InputValue>): Workflow {
  const graph = structuredClone(workflow);
  for (const input of inputs) {
    const value = values[input.name];
    if (value === undefined) continue;
    for (const target of input.from) {
      const dot = target.lastIndexOf(".");
      const node = graph[target.slice(0, dot)];
      if (node) node.inputs[target.slice(dot + 1)] = value;
    }
  }
  return graph;
}

/** The stored graph: every input's default written into the nodes it sets. */
export function withDefaults(workflow: Workflow, inputs: TemplateInput[]): Workflow {
  return applyInputs(workflow, inputs, Object.fromEntries(inputs.map((i) => [i.name, i.default])));
}

/** A run request body using the named inputs' defaults (documentation). */
export function exampleRun(inputs: TemplateInput[]): { inputs: Record<string, InputValue> } {
  const named = inputs.filter((i) => !i.hidden && !i.name.includes("."));
  return { inputs: Object.fromEntries(named.map((i) => [i.name, i.default])) };
}
