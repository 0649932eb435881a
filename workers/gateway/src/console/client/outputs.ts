/** Output gallery: each image fetched with the key into a blob: URL, shown as <img>, with a download link. */
import { blobUrl, type Session } from "./api.ts";
import { h } from "./dom.ts";
import type { JobOutput } from "./types.ts";

export function gallery(s: Session, jobId: string, outputs: JobOutput[]): HTMLElement {
  const list = h("ul", { class: "gallery", "aria-label": "Outputs" });
  if (outputs.length === 0) list.append(h("li", { class: "muted" }, "No outputs."));
  for (const o of outputs) {
    const link = h("a", { download: o.filename, class: "button" }, `Download ${o.filename}`);
    const figure = h(
      "figure",
      null,
      h("figcaption", null, `#${o.index} · node ${o.node_id} · ${o.content_type} · ${(o.size / 1024).toFixed(1)} KiB`),
      link,
    );
    list.append(h("li", null, figure));
    void blobUrl(s, `/v1/jobs/${encodeURIComponent(jobId)}/outputs/${o.index}`)
      .then((url) => {
        link.href = url;
        if (o.content_type.startsWith("image/")) {
          figure.prepend(h("img", { src: url, alt: `Output ${o.index} (${o.filename}) of node ${o.node_id}` }));
        }
      })
      .catch((err: unknown) => figure.append(h("p", { class: "error" }, String(err))));
  }
  return list;
}
