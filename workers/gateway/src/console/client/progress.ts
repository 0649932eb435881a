/** Live progress of a running job from its SSE events: a <progress> per node, the current one on top. */
import { h } from "./dom.ts";
import type { JobEvent } from "./types.ts";

export interface ProgressView {
  el: HTMLElement;
  update(e: JobEvent): void;
}

export function progressView(): ProgressView {
  const overall = h("progress", { id: "run-progress", max: 1, "aria-label": "Current node progress" });
  const label = h("span", { class: "muted" }, "Waiting for a runner…");
  const preview = h("img", { class: "preview", alt: "Live preview", hidden: true });
  const nodes = h("ul", { class: "nodes", "aria-label": "Progress per node" });
  const perNode = new Map<string, HTMLProgressElement>();
  const el = h(
    "div",
    { class: "progress card" },
    h("label", { for: "run-progress" }, "Progress"),
    overall,
    label,
    preview,
    nodes,
  );
  return {
    el,
    update(e) {
      if (e.type === "started") label.textContent = "Running…";
      if (e.type === "progress") {
        const value = Number(e.value);
        const max = Number(e.max) || 1;
        const node = typeof e.node_id === "string" ? e.node_id : "";
        overall.max = max;
        overall.value = value;
        label.textContent = `${node ? `Node ${node}: ` : ""}step ${value} of ${max}`;
        if (node) {
          let bar = perNode.get(node);
          if (!bar) {
            bar = h("progress", { max, "aria-label": `Node ${node}` });
            perNode.set(node, bar);
            nodes.append(h("li", null, h("span", null, `Node ${node}`), bar));
          }
          bar.max = max;
          bar.value = value;
        }
      }
      // `preview` events (a data: or same-origin URL of a small JPEG) where the deployment sends them.
      const frame = [e.url, e.image, e.data].find((v): v is string => typeof v === "string");
      if (e.type === "preview" && frame && /^(data:image\/(jpeg|png|webp);base64,|\/)/.test(frame)) {
        preview.src = frame;
        preview.hidden = false;
      }
      if (e.type === "succeeded" || e.type === "failed" || e.type === "canceled") {
        label.textContent = e.type === "succeeded" ? "Done." : `Ended: ${e.type}.`;
        if (e.type === "succeeded") {
          overall.value = overall.max;
          for (const bar of perNode.values()) bar.value = bar.max;
        }
      }
    },
  };
}
