/**
 * Worker settings ([vars] in wrangler.toml) parsed with zod, once per `env` object (a WeakMap keyed by it:
 * no other state). A bad value fails loudly with the variable's name, what was expected and what came,
 * e.g. `LEASE_DURATION_S: expected a whole number of seconds, got "60s"`; unset or empty means the default.
 */
import { z } from "zod";

export class ConfigError extends Error {
  /** The offending variable (safe to show: only [vars] are parsed here, never secrets). */
  readonly variable: string;

  constructor(variable: string, detail: string) {
    super(`${variable}: ${detail}`);
    this.name = "ConfigError";
    this.variable = variable;
  }
}

const text = z.preprocess((v) => (typeof v === "number" ? String(v) : v), z.string().optional());

/** A whole number given as text, in [min, max]; unset or empty: `fallback`. */
export function wholeNumber(unit: string, fallback: number, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}) {
  return text.transform((v, ctx) => {
    if (v === undefined || v.trim() === "") return fallback;
    const n = /^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n)) {
      ctx.addIssue({ code: "custom", message: `expected a whole number of ${unit}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    if (n < min || n > max) {
      ctx.addIssue({ code: "custom", message: `expected ${min} to ${max} ${unit}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return n;
  });
}

/** A comma-separated list of whole numbers; unset or empty: `fallback`. */
export function wholeNumberList(
  unit: string,
  fallback: readonly number[],
  { min = 0, max = Number.MAX_SAFE_INTEGER } = {},
) {
  return text.transform((v, ctx) => {
    if (v === undefined || v.trim() === "") return [...fallback];
    const parts = v.split(",").map((s) => s.trim());
    if (parts.some((p) => !/^\d+$/.test(p) || Number(p) < min || Number(p) > max)) {
      const message = `expected a comma-separated list of whole numbers of ${unit} (${min} to ${max}), got ${JSON.stringify(v)}`;
      ctx.addIssue({ code: "custom", message });
      return z.NEVER;
    }
    return parts.map(Number);
  });
}

/** Parses the variables `schema` names from `env`; throws ConfigError naming the first bad one. */
export function parseVars<S extends z.ZodObject>(schema: S, env: object): z.output<S> {
  const vars = Object.fromEntries(Object.keys(schema.shape).map((name) => [name, Reflect.get(env, name)]));
  const parsed = schema.safeParse(vars);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ConfigError(String(issue.path[0] ?? "config"), issue.message);
}

/** `parse` memoised per env object; a failure is remembered too (the same env fails the same way). */
export function memoPerEnv<E extends object, T>(parse: (env: E) => T): (env: E) => T {
  const memo = new WeakMap<E, { ok: true; value: T } | { ok: false; error: unknown }>();
  return (env) => {
    let hit = memo.get(env);
    if (!hit) {
      try {
        hit = { ok: true, value: parse(env) };
      } catch (error) {
        hit = { ok: false, error };
      }
      memo.set(env, hit);
    }
    if (!hit.ok) throw hit.error;
    return hit.value;
  };
}
