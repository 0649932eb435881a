/**
 * Python behaviour that validate_prompt relies on, ported for the double: dict and tuple lookups with the
 * exceptions (and representative tracebacks) they raise, and validate_node_input.
 */
import type { InputSpec, InputType } from "./nodes.ts";
import { fakeTraceback, PyError, pyEquals, pyFloat, pyRepr, pyStr, pyTypeName } from "./py.ts";

export const EXEC_PY = "/srv/comfyui/app/execution.py";

export function pyKey(prompt: Record<string, unknown>, key: unknown): Record<string, unknown> {
  if (Array.isArray(key) || (typeof key === "object" && key !== null)) {
    throw new PyError("TypeError", `unhashable type: '${pyTypeName(key)}'`);
  }
  const node = typeof key === "string" ? prompt[key] : undefined;
  if (typeof key !== "string" || !Object.hasOwn(prompt, key)) {
    throw new PyError(
      "KeyError",
      pyRepr(key),
      fakeTraceback([
        [
          EXEC_PY,
          808,
          "validate_inputs",
          "r = await validate_inputs(prompt_id, prompt, o_id, validated)",
          ["await validate_inputs(prompt_id, prompt, o_id, validated)", 0],
        ],
        [EXEC_PY, 788, "validate_inputs", "o_class_type = prompt[o_id]['class_type']", ["prompt[o_id]", 6]],
      ]),
    );
  }
  return node as Record<string, unknown>;
}

export function getItem(node: unknown, key: string): unknown {
  if (node === null || typeof node !== "object" || Array.isArray(node)) {
    throw new PyError(
      "TypeError",
      Array.isArray(node)
        ? "list indices must be integers or slices, not str"
        : `'${pyTypeName(node)}' object is not subscriptable`,
    );
  }
  if (!Object.hasOwn(node, key)) throw new PyError("KeyError", pyRepr(key));
  return (node as Record<string, unknown>)[key];
}

export function tupleIndex(types: string[] | undefined, index: unknown): string {
  if (typeof index !== "number" && typeof index !== "boolean") {
    throw new PyError("TypeError", `tuple indices must be integers or slices, not ${pyTypeName(index)}`);
  }
  if (typeof index === "number" && !Number.isInteger(index)) {
    throw new PyError("TypeError", "tuple indices must be integers or slices, not float");
  }
  const i = Number(index);
  if (types === undefined) return "*";
  const resolved = i < 0 ? types.length + i : i;
  const t = types[resolved];
  if (t === undefined || resolved < 0) {
    throw new PyError(
      "IndexError",
      "tuple index out of range",
      fakeTraceback([
        [
          EXEC_PY,
          1010,
          "validate_prompt",
          "m = await validate_inputs(prompt_id, prompt, o, validated)",
          ["await validate_inputs(prompt_id, prompt, o, validated)", 0],
        ],
        [EXEC_PY, 790, "validate_inputs", "received_type = r[val[1]]", ["r[val[1]]", 1]],
      ]),
    );
  }
  return t;
}

/** comfy_execution.validation.validate_node_input (non-strict) */
export function validateNodeInput(received: InputType, input: InputType): boolean {
  if (pyEquals(received, input)) return true;
  if (typeof received !== "string" || typeof input !== "string") return false;
  const r = new Set(received.split(",").map((t) => t.trim()));
  const i = new Set(input.split(",").map((t) => t.trim()));
  if (r.has("*") || i.has("*")) return true;
  for (const t of r) if (i.has(t)) return true;
  return false;
}

export function inputInfo(spec: InputSpec): [InputType, Record<string, unknown>] {
  return [spec[0], spec[1] ?? {}];
}

export function formatValue(inputType: InputType, v: unknown): string {
  return inputType === "FLOAT" && typeof v === "number" ? pyFloat(v) : pyStr(v);
}
