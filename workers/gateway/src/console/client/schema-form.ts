/**
 * A form generated from a JSON Schema object (a template's inputs, or those detected in a pasted workflow):
 * <textarea> for prompts, number fields with a slider where the range is finite, <select> for enums, a
 * checkbox for booleans, and a Randomize button for seeds.
 */
import { h } from "./dom.ts";
import { imageField, isImageInput } from "./image-field.ts";

export interface PropSchema {
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  multipleOf?: number;
  description?: string;
  title?: string;
  format?: string;
}

export interface ObjectSchema {
  type?: string;
  properties?: Record<string, PropSchema>;
  required?: string[];
}

export interface SchemaForm {
  el: HTMLElement;
  /** The values as typed: numbers for number fields, booleans for checkboxes; empty optional fields left out. */
  values(): Record<string, unknown>;
}

const MAX_SEED = 2 ** 53 - 1;

function typeOf(p: PropSchema): string {
  const t = Array.isArray(p.type) ? p.type.find((x) => x !== "null") : p.type;
  return t ?? (typeof p.default === "number" ? "number" : typeof p.default === "boolean" ? "boolean" : "string");
}

function isPrompt(name: string, p: PropSchema): boolean {
  return (
    /prompt|text/i.test(name) || p.format === "textarea" || (typeof p.default === "string" && p.default.length > 60)
  );
}

export function schemaForm(schema: ObjectSchema, idPrefix: string): SchemaForm {
  const readers: Array<[string, () => unknown]> = [];
  const field = (name: string, p: PropSchema): HTMLElement => {
    const id = `${idPrefix}-${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const type = typeOf(p);
    const label = h("label", { for: id }, p.title ?? name);
    const hint = p.description ? h("small", { class: "muted" }, p.description) : null;
    if (p.enum && p.enum.length > 0) {
      const select = h(
        "select",
        { id, name },
        p.enum.map((v) => h("option", { value: String(v), selected: v === p.default }, String(v))),
      );
      readers.push([name, () => p.enum?.find((v) => String(v) === select.value) ?? select.value]);
      return h("div", { class: "field" }, label, select, hint);
    }
    if (type === "boolean") {
      const box = h("input", { id, name, type: "checkbox", checked: p.default === true });
      readers.push([name, () => box.checked]);
      return h("div", { class: "field check" }, box, label, hint);
    }
    if (type === "integer" || type === "number") {
      const step = p.multipleOf ?? (type === "integer" ? 1 : "any");
      const input = h("input", {
        id,
        name,
        type: "number",
        step,
        min: p.minimum,
        max: p.maximum,
        value: typeof p.default === "number" ? p.default : "",
      });
      readers.push([name, () => (input.value === "" ? undefined : Number(input.value))]);
      const extras: HTMLElement[] = [];
      if (/seed/i.test(name)) {
        extras.push(
          h(
            "button",
            {
              type: "button",
              class: "small",
              onclick: () => {
                input.value = String(Math.floor(Math.random() * Math.min(p.maximum ?? MAX_SEED, MAX_SEED)));
              },
            },
            "Randomize",
          ),
        );
      } else if (p.minimum !== undefined && p.maximum !== undefined && p.maximum - p.minimum <= 100_000) {
        const slider = h("input", {
          type: "range",
          min: p.minimum,
          max: p.maximum,
          step,
          value: typeof p.default === "number" ? p.default : p.minimum,
          "aria-label": `${name} slider`,
          tabindex: -1,
          oninput: () => {
            input.value = slider.value;
          },
        });
        input.addEventListener("input", () => {
          slider.value = input.value;
        });
        extras.push(slider);
      }
      return h("div", { class: "field" }, label, h("div", { class: "row" }, input, extras), hint);
    }
    const text = typeof p.default === "string" ? p.default : "";
    if (isImageInput(name, p.description)) {
      const image = imageField(id, name, text);
      readers.push([name, () => (image.input.value === "" ? undefined : image.input.value)]);
      return h("div", { class: "field image" }, label, image.el, hint);
    }
    const control = isPrompt(name, p)
      ? h("textarea", { id, name, rows: 3 }, text)
      : h("input", { id, name, type: p.format === "uri" ? "url" : "text", value: text });
    readers.push([name, () => (control.value === "" && !schema.required?.includes(name) ? undefined : control.value)]);
    return h("div", { class: "field" }, label, control, hint);
  };
  // Prompts first, then the other named inputs; every other widget ("6.text", "3.cfg") under "More inputs".
  const entries = Object.entries(schema.properties ?? {});
  const rank = ([name, p]: [string, PropSchema]) => (typeOf(p) === "string" && isPrompt(name, p) ? 0 : 1);
  const named = entries.filter(([n]) => !n.includes(".")).sort((a, b) => rank(a) - rank(b));
  const more = entries.filter(([n]) => n.includes("."));
  return {
    el: h(
      "div",
      null,
      h(
        "div",
        { class: "form-grid" },
        named.map(([n, p]) => field(n, p)),
      ),
      more.length > 0
        ? h(
            "details",
            { class: "more" },
            h("summary", null, `More inputs (${more.length}, by node.input)`),
            h(
              "div",
              { class: "form-grid" },
              more.map(([n, p]) => field(n, p)),
            ),
          )
        : null,
    ),
    values() {
      const out: Record<string, unknown> = {};
      for (const [name, read] of readers) {
        const v = read();
        if (v !== undefined) out[name] = v;
      }
      return out;
    },
  };
}
