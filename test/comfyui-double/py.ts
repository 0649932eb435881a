/**
 * Python's text forms where they appear inside ComfyUI's messages (validation details, exception messages):
 * `pyRepr`/`pyStr` = repr()/str(), int()/float()/bool() conversions with CPython's errors, and `PyError` = a Python
 * exception (type name + str(ex)). JSON bodies are plain JSON.stringify (the values, not json.dumps' spacing).
 *
 * JS cannot tell 1 from 1.0, so floats that happen to be integral print as ints ("1" where Python prints "1.0");
 * parsed JSON is identical either way.
 */
import { readFileSync } from "node:fs";

/** Tracebacks as ComfyUI 0.33 sent them (fixtures/tracebacks_v0.33.json): SaveImage outside the output folder (an
 * execution error; its first 4 frames are execution.py's down to the node function), validation's KeyError and
 * IndexError. The double sends these recorded texts instead of composing its own. */
export const TRACEBACKS = JSON.parse(
  readFileSync(new URL("./fixtures/tracebacks_v0.33.json", import.meta.url), "utf8"),
) as { save_outside_output: string[]; key_error: string[]; index_error: string[] };

/** the execution.py part of an execution error's traceback */
export const EXECUTE_TRACEBACK = TRACEBACKS.save_outside_output.slice(0, 4);

export class PyError extends Error {
  readonly pyType: string;
  /** formatted traceback, when the double has a recorded one for this error */
  readonly traceback: string[] | undefined;
  constructor(pyType: string, message: string, traceback?: string[]) {
    super(message);
    this.pyType = pyType;
    this.traceback = traceback;
  }
}

const HEX = "0123456789abcdef";

export function pyFloat(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Number.POSITIVE_INFINITY) return "inf";
  if (n === Number.NEGATIVE_INFINITY) return "-inf";
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return `${n}.0`;
  return pyNumberText(n);
}

function pyNumberText(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return String(n);
  const s = String(n);
  // JS "1e-7" / "1e+21" -> Python "1e-07" / "1e+21"
  return s.replace(/e([+-])(\d)$/, "e$10$2");
}

function reprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === quote) out += `\\${quote}`;
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\x${HEX[(c >> 4) & 15]}${HEX[c & 15]}`;
    else out += ch;
  }
  return out + quote;
}

/** repr(value) for JSON-ish values (dict/list/str/int/float/bool/None). */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return pyNumberText(value);
  if (typeof value === "string") return reprString(value);
  if (Array.isArray(value)) return `[${value.map((v) => pyRepr(v)).join(", ")}]`;
  if (typeof value === "object") {
    const parts = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${reprString(k)}: ${pyRepr(v)}`);
    return `{${parts.join(", ")}}`;
  }
  return String(value);
}

/** str(value): strings unquoted, everything else as repr. */
export function pyStr(value: unknown): string {
  return typeof value === "string" ? value : pyRepr(value);
}

/** Python's type(x).__name__ for JSON values (used in TypeError messages). */
export function pyTypeName(value: unknown): string {
  if (value === null || value === undefined) return "NoneType";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "string") return "str";
  if (Array.isArray(value)) return "list";
  return "dict";
}

const INT_LITERAL = /^[+-]?\d+(?:_\d+)*$/;
const FLOAT_LITERAL =
  /^[+-]?(?:(?:\d+(?:_\d+)*)?\.?\d+(?:_\d+)*(?:[eE][+-]?\d+)?|\d+(?:_\d+)*\.(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)$/i;

/** int(value) as Python does for JSON values; throws PyError like CPython. */
export function pyInt(value: unknown): number {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number") {
    if (Number.isNaN(value)) throw new PyError("ValueError", "cannot convert float NaN to integer");
    if (!Number.isFinite(value)) throw new PyError("OverflowError", "cannot convert float infinity to integer");
    return Math.trunc(value);
  }
  if (typeof value === "string") {
    const t = value.trim();
    if (INT_LITERAL.test(t)) return Number.parseInt(t.replaceAll("_", ""), 10);
    throw new PyError("ValueError", `invalid literal for int() with base 10: ${reprString(value)}`);
  }
  throw new PyError(
    "TypeError",
    `int() argument must be a string, a bytes-like object or a real number, not '${pyTypeName(value)}'`,
  );
}

/** float(value) as Python does for JSON values. */
export function pyFloatValue(value: unknown): number {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const t = value.trim();
    if (FLOAT_LITERAL.test(t)) {
      const lower = t.toLowerCase().replaceAll("_", "");
      if (lower.endsWith("nan")) return Number.NaN;
      if (lower.endsWith("inf") || lower.endsWith("infinity")) {
        return lower.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
      }
      return Number.parseFloat(lower);
    }
    throw new PyError("ValueError", `could not convert string to float: ${reprString(value)}`);
  }
  throw new PyError("TypeError", `float() argument must be a string or a real number, not '${pyTypeName(value)}'`);
}

/** bool(value) */
export function pyBool(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === "string") return value.length > 0;
  if (typeof value === "number") return value !== 0;
  if (typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.length > 0;
  return Object.keys(value as object).length > 0;
}

/** Python `a == b` for JSON values (1 == 1.0 == True). */
export function pyEquals(a: unknown, b: unknown): boolean {
  const num = (v: unknown): number | undefined =>
    typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : undefined;
  const na = num(a);
  const nb = num(b);
  if (na !== undefined || nb !== undefined) return na === nb;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => pyEquals(v, b[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const bo = b as Record<string, unknown>;
  return ka.length === kb.length && ka.every((k) => k in bo && pyEquals((a as Record<string, unknown>)[k], bo[k]));
}
