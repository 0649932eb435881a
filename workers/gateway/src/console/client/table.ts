/** A plain table from rows of objects: the given columns first, then (unless turned off) any other field. */
import { h } from "./dom.ts";

export type Cell = string | number | boolean | null | undefined | Node;

/**
 * A nested value of a newer API field: a short list of plain values inline, anything bigger folded into a
 * <details> (e.g. a pool's capabilities: hundreds of node classes).
 */
function structured(v: object): Cell {
  const plain = Array.isArray(v) && v.every((x) => x === null || typeof x !== "object");
  const text = plain ? v.join(", ") : JSON.stringify(v, null, 2);
  if (plain && text.length <= 60) return text || "—";
  const size = Array.isArray(v) ? `${v.length} items` : `${Object.keys(v).length} fields`;
  return h("details", null, h("summary", null, size), h("pre", null, text));
}

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
    return v !== null && typeof v === "object" ? structured(v) : (v as Cell);
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
