/** Parses a JSON column that holds an array of strings (or NULL). */
export function jsonArray(value: unknown): string[] | null {
  if (typeof value !== "string") return null;
  const parsed: unknown = JSON.parse(value);
  return Array.isArray(parsed) ? parsed.map(String) : null;
}

export function toJsonColumn(value: readonly string[] | null | undefined): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
