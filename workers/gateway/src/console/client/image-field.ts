/**
 * An image input of a template (LoadImage): a URL field plus a drop zone / file picker that turns the chosen
 * image into a data: URL (the gateway checks and fetches it like any input; nothing is uploaded elsewhere, so
 * it works under the console's CSP), with a preview.
 */
import { h } from "./dom.ts";

const TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];

export function isImageInput(name: string, description: string | undefined): boolean {
  return /(^|_)image$/.test(name) || /\bfile:<id>/.test(description ?? "");
}

export function imageField(id: string, name: string, initial: string): { el: HTMLElement; input: HTMLInputElement } {
  const input = h("input", { id, name, type: "text", value: initial, placeholder: "https://… or drop an image below" });
  const preview = h("img", { class: "drop-preview", alt: `Image chosen for ${name}`, hidden: true });
  const picker = h("input", {
    type: "file",
    accept: TYPES.join(","),
    "aria-label": `Choose an image file for ${name}`,
  });
  const zone = h(
    "div",
    { class: "drop-zone" },
    h("span", { class: "muted" }, "Drop an image here, or "),
    picker,
    preview,
  );
  const take = (file: File | undefined) => {
    if (!file || !TYPES.includes(file.type)) return;
    const reader = new FileReader();
    reader.onload = () => {
      if (typeof reader.result !== "string") return;
      input.value = reader.result;
      preview.src = reader.result;
      preview.hidden = false;
    };
    reader.readAsDataURL(file);
  };
  picker.addEventListener("change", () => take(picker.files?.[0]));
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    take(e.dataTransfer?.files[0]);
  });
  return { el: h("div", null, input, zone), input };
}
