/**
 * Python behaviour that validate_prompt relies on, ported for the double: dict and tuple lookups with the
 * exceptions (and representative tracebacks) they raise, and validate_node_input.
 */
import type { InputSpec, InputType } from "./nodes.ts";
import { PyError, pyEquals, pyFloat, pyRepr, pyStr, pyTypeName, TRACEBACKS } from "./py.ts";

export function pyKey(prompt: Record<string, unknown>, key: unknown): Record<string, unknown> {
  if (Array.isArray(key) || (typeof key === "object" && key !== null)) {
    throw new PyError("TypeError", `unhashable type: '${pyTypeName(key)}'`);
  }
  const node = typeof key === "string" ? prompt[key] : undefined;
  if (typeof key !== "string" || !Object.hasOwn(prompt, key)) {
    throw new PyError("KeyError", pyRepr(key), TRACEBACKS.key_error);
  }
  return node as Record<string, unknown>;
}

/** node[key] on a prompt node (validate_prompt has already refused nodes that are not dicts). */
export function getItem(node: Record<string, unknown>, key: string): unknown {
  if (!Object.hasOwn(node, key)) throw new PyError("KeyError", pyRepr(key));
  return node[key];
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
    throw new PyError("IndexError", "tuple index out of range", TRACEBACKS.index_error);
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
