/** A plain table from rows of objects: the given columns first, then (unless turned off) any other field. */
import { h } from "./dom.ts";

export type Cell = string | number | boolean | null | undefined | Node;

export function table(
  rows: Array<Record<string, unknown>>,
  columns: Array<[key: string, label: string]>,
  render: Record<string, (row: Record<string, unknown>) => Cell> = {},
  caption?: string,
  /** Also show fields not in `columns` (what a newer API returns), as JSON where they are objects. */
  extras = true,
): HTMLElement {
  const known = new Set(columns.map(([k]) => k));
  const extra = extras ? [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => !known.has(k)) : [];
  const all: Array<[string, string]> = [...columns, ...extra.map((k): [string, string] => [k, k.replace(/_/g, " ")])];
  const cell = (row: Record<string, unknown>, key: string): Cell => {
    const custom = render[key];
    if (custom) return custom(row);
    const v = row[key];
    if (v instanceof Node) return v;
    return v !== null && typeof v === "object" ? JSON.stringify(v) : (v as Cell);
  };
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      null,
      caption ? h("caption", null, caption) : null,
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          all.map(([, label]) => h("th", { scope: "col" }, label)),
        ),
      ),
      h(
        "tbody",
        null,
        rows.length === 0
          ? h("tr", null, h("td", { colspan: all.length, class: "muted" }, "None."))
          : rows.map((r) =>
              h(
                "tr",
                null,
                all.map(([k]) => {
                  const v = cell(r, k);
                  return h("td", null, v instanceof Node ? v : v === null || v === undefined ? "—" : String(v));
                }),
              ),
            ),
      ),
    ),
  );
}
