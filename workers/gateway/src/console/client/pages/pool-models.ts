/**
 * Pools page, model files (GET /v1/pools/:name `models`, docs/models.md): each manifest file of the pool
 * with how many runners hold, wait for, fetch or failed it, and how many runners reported. Names and counts.
 */
import { h } from "../dom.ts";
import { table } from "../table.ts";

export interface ModelState {
  manifest_digest: string | null;
  files: Array<{
    folder: string;
    filename: string;
    present: number;
    pending: number;
    downloading: number;
    failed: number;
  }>;
  runners: Array<{ state: string; current: boolean; url_models: number }>;
}

/** The card of `GET /v1/pools/:name`'s `models` (fetched once per pool by the page: pool-runners.ts poolDetail). */
export function modelStateCard(pool: string, models: ModelState | undefined): HTMLElement | null {
  if (!models || (models.files.length === 0 && models.runners.length === 0)) return null;
  const id = `models-${pool}`;
  const ready = models.runners.filter((r) => r.state === "ready" && r.current).length;
  const cached = models.runners.reduce((n, r) => n + r.url_models, 0);
  return h(
    "section",
    { class: "card", "aria-labelledby": id },
    h("h2", { id }, `Model files of ${pool}`),
    h(
      "p",
      { class: "muted" },
      `${models.runners.length} runner(s) reported, ${ready} ready on the current manifest; ${cached} model file(s) downloaded for jobs by URL.`,
    ),
    table(
      models.files.map((f) => ({ ...f, file: `${f.folder}/${f.filename}` })),
      [
        ["file", "File"],
        ["present", "Present"],
        ["downloading", "Downloading"],
        ["pending", "Waiting"],
        ["failed", "Failed"],
      ],
      {},
      `Model files of ${pool}`,
      false,
    ),
  );
}
