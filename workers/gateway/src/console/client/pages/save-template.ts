/**
 * "Save as template" on the Run page (where the deployment has templates): POST /v1/templates with the pasted
 * workflow, API or UI format (the server converts the UI format with the pool's node specs), then open the
 * Run page on it.
 */
import { call, type Session } from "../api.ts";
import { errorBox, fill, h } from "../dom.ts";

export function saveTemplateBox(s: Session, workflow: unknown, uiFormat: boolean): HTMLElement {
  // Not `required`: the box sits inside the Run form, whose submit must not wait for a template name.
  const name = h("input", {
    id: "template-name",
    pattern: "[a-z0-9][a-z0-9_-]*",
    placeholder: "e.g. sd15-t2i",
    autocomplete: "off",
  });
  const status = h("div");
  const save = async () => {
    fill(status);
    if (name.value === "") {
      fill(status, errorBox("Give the template a name: lowercase letters, digits, _ and -."));
      return;
    }
    if (!name.reportValidity()) return;
    try {
      const { data } = await call<{ name: string }>(s, "/v1/templates", { body: { name: name.value, workflow } });
      location.hash = `#/run?template=${encodeURIComponent(data.name)}`;
    } catch (err) {
      fill(status, errorBox(err));
    }
  };
  return h(
    "div",
    { class: "card save-template" },
    uiFormat
      ? h(
          "p",
          null,
          "This is the UI format (what Save writes). Save it as a template: the gateway converts it and detects its inputs.",
        )
      : null,
    h(
      "div",
      { class: "row wrap" },
      h("label", { for: "template-name" }, "Template name"),
      name,
      h("button", { type: "button", onclick: () => void save() }, "Save as template"),
    ),
    status,
  );
}
