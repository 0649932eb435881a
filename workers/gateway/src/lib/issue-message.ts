/**
 * A zod issue as a sentence a person can act on: what was expected and what came
 * (`expected number, got string "0"`), or `is required` when the field is missing. What came is read
 * from the raw input at the issue's path (zod 4 only reports inputs when asked, and reports the coerced
 * value for `z.coerce`), so a query's `?limit=abc` reads `got string "abc"`. Pure.
 */
import type { z } from "zod";

type Issue = z.core.$ZodIssue;

/** The value at `path` inside `root`, or `found: false` when a key on the way is missing. */
export function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): { found: boolean; value: unknown } {
  let value = root;
  for (const key of path) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, key)) {
      return { found: false, value: undefined };
    }
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return { found: true, value };
}

/** `string "0"`, `number 5`, `null`, `array of 2`, `object`. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `array of ${value.length}`;
  switch (typeof value) {
    case "string": {
      const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
      return `string ${JSON.stringify(shown)}`;
    }
    case "number":
    case "boolean":
      return `${typeof value} ${String(value)}`;
    case "object":
      return "object";
    default:
      return typeof value;
  }
}

const EXPECTED_NAMES: Record<string, string> = { record: "object", int: "integer", nan: "NaN" };

function expectedTypes(issue: Issue): string[] {
  if (issue.code === "invalid_type") return [EXPECTED_NAMES[issue.expected] ?? issue.expected];
  if (issue.code === "invalid_union") {
    // Only branches that failed on the value itself (not on a field inside it) say what type was expected.
    const own = issue.errors.flatMap((branch) => (branch[0] && branch[0].path.length === 0 ? [branch[0]] : []));
    return [...new Set(own.flatMap(expectedTypes))];
  }
  return [];
}

/** Zod's own wording without its generic "Invalid input: " lead. */
function zodWords(issue: Issue): string {
  return issue.message.replace(/^Invalid (input|option): /, "");
}

/** The message for one issue; `raw` is the request value the schema was applied to. */
export function issueMessage(issue: Issue, raw: unknown): string {
  const { found, value } = valueAt(raw, issue.path);
  const got = found ? `, got ${describeValue(value)}` : "";
  if (issue.code === "invalid_type" || issue.code === "invalid_union") {
    if (!found || value === undefined) return "is required";
    const expected = expectedTypes(issue);
    if (expected.length > 0) return `expected ${expected.join(" or ")}${got}`;
    return `${issue.message}${got}`;
  }
  if (issue.code === "unrecognized_keys" || issue.code === "custom") return issue.message;
  return `${zodWords(issue)}${got}`;
}
