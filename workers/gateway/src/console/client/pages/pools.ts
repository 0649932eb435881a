/**
 * Pools: the GPU pools the tenant may use, with live runner, queued and running counts (GET /v1/pools), and
 * what each pool's runners can run (GET /v1/pools/:name/capabilities, where the deployment has it): ComfyUI
 * versions, node classes and model files; and each pool's manifest files with how many runners hold them
 * (GET /v1/pools/:name, pool-models.ts); and each pool's runners with versions, GPU, slots and health, its
 * queue depth and wait estimate (GET /v1/pools/:name, pool-runners.ts).
 */
import { call, optional, type Session } from "../api.ts";
import type { PageContext } from "../context.ts";
import { h, page } from "../dom.ts";
import { table } from "../table.ts";
import { modelStateCard } from "./pool-models.ts";
import { poolDetail, runnersCard } from "./pool-runners.ts";

interface Capabilities {
  reported: boolean;
  runners: number;
  unreported_runners: number;
  comfyui_versions: string[];
  node_classes: Record<string, unknown>;
  models: Record<string, string[]>;
}

function fact(term: string, value: string, count?: string): HTMLElement {
  return h("div", null, h("dt", null, term), h("dd", count ? { "data-count": count } : null, value));
}

async function capabilitiesCard(s: Session, pool: string, signal: AbortSignal): Promise<HTMLElement | null> {
  const caps = await optional<Capabilities>(s, `/v1/pools/${encodeURIComponent(pool)}/capabilities`).catch(() => null);
  if (!caps || signal.aborted) return null;
  const id = `caps-${pool}`;
  if (!caps.reported) {
    return h(
      "section",
      { class: "card", "aria-labelledby": id },
      h("h2", { id }, `What ${pool} can run`),
      h("p", { class: "muted" }, "No live runner of this pool reports its node classes and models yet."),
    );
  }
  const classes = Object.keys(caps.node_classes).sort();
  const folders = Object.entries(caps.models).filter(([, files]) => files.length > 0);
  return h(
    "section",
    { class: "card", "aria-labelledby": id },
    h("h2", { id }, `What ${pool} can run`),
    h(
      "dl",
      { class: "facts" },
      fact("ComfyUI", caps.comfyui_versions.join(", ") || "—"),
      fact(
        "Runners reporting",
        `${caps.runners}${caps.unreported_runners ? ` (+${caps.unreported_runners} not reporting)` : ""}`,
      ),
      fact("Node classes", String(classes.length), "node-classes"),
      fact("Model files", String(folders.reduce((n, [, files]) => n + files.length, 0))),
    ),
    h(
      "details",
      null,
      h("summary", null, `Node classes (${classes.length})`),
      h("p", { class: "mono wrap-list" }, classes.join(", ")),
    ),
    folders.map(([folder, files]) =>
      h(
        "details",
        null,
        h("summary", null, `${folder} (${files.length})`),
        h(
          "ul",
          null,
          files.map((f) => h("li", null, f)),
        ),
      ),
    ),
  );
}

export async function poolsPage(ctx: PageContext): Promise<void> {
  const { data } = await call<{ data: Array<Record<string, unknown>> }>(ctx.session, "/v1/pools", {
    signal: ctx.signal,
  });
  const cards = h("div", { class: "cards" });
  ctx.root.append(
    page(
      "Pools",
      h(
        "p",
        { class: "muted" },
        "Runners that asked for work in the last 90 s, and the jobs waiting and running in each pool.",
      ),
      table(
        data.data.map(({ default: isDefault, ...rest }) => ({
          ...rest,
          name: h("span", null, String(rest.name), " ", isDefault ? h("span", { class: "badge" }, "default") : null),
        })),
        [
          ["name", "Pool"],
          ["region", "Region"],
          ["runners", "Runners"],
          ["queued", "Queued"],
          ["running", "Running"],
        ],
        {
          runners: (r) =>
            h("span", { class: Number(r.runners) > 0 ? "health ok" : "health down" }, String(r.runners ?? 0)),
        },
      ),
      cards,
    ),
  );
  const found = await Promise.all(
    data.data.flatMap((p) => [
      // One GET /v1/pools/:name per pool feeds both its runners card and its model files card.
      poolDetail(ctx.session, String(p.name)).then((view) =>
        ctx.signal.aborted ? [] : [runnersCard(String(p.name), view), modelStateCard(String(p.name), view?.models)],
      ),
      capabilitiesCard(ctx.session, String(p.name), ctx.signal).then((card) => [card]),
    ]),
  );
  cards.append(...found.flat().filter((c): c is HTMLElement => c !== null));
}
