/** Jobs: the tenant's jobs, newest first, with a status filter and paging by cursor. */
import { call } from "../api.ts";
import type { PageContext } from "../context.ts";
import { fill, h, ms, page, statusBadge, when } from "../dom.ts";
import type { Job } from "../types.ts";

const STATUSES = ["", "queued", "running", "succeeded", "failed", "canceled"];

function hashFor(status: string, cursor: string | null, back: string[]): string {
  const q = new URLSearchParams();
  if (status) q.set("status", status);
  if (cursor) q.set("cursor", cursor);
  if (back.length > 0) q.set("back", back.join(","));
  const s = q.toString();
  return `#/jobs${s ? `?${s}` : ""}`;
}

export async function jobsPage(ctx: PageContext): Promise<void> {
  const status = ctx.query.get("status") ?? "";
  const cursor = ctx.query.get("cursor");
  // Cursors of the pages before this one ("" for the first), so Previous can go back.
  const back = (ctx.query.get("back") ?? "").split(",").filter((c, i, all) => c !== "" || i < all.length - 1);
  const select = h(
    "select",
    {
      id: "status-filter",
      onchange: (e: Event) => {
        location.hash = hashFor((e.target as HTMLSelectElement).value, null, []);
      },
    },
    STATUSES.map((s) => h("option", { value: s, selected: s === status }, s || "any")),
  );
  const body = h("tbody");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  ctx.root.append(
    page(
      "Jobs",
      h(
        "div",
        { class: "toolbar" },
        h("label", { for: "status-filter" }, "Status"),
        select,
        h("a", { href: "#/run", class: "button primary" }, "New run"),
      ),
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          null,
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              ["Job", "Status", "Template", "Created", "Pool", "Progress", "Run time"].map((t) =>
                h("th", { scope: "col" }, t),
              ),
            ),
          ),
          body,
        ),
      ),
      pager,
    ),
  );
  const q = new URLSearchParams({ limit: "20" });
  if (status) q.set("status", status);
  if (cursor) q.set("cursor", cursor);
  const { data } = await call<{ data: Job[]; next_cursor: string | null }>(ctx.session, `/v1/jobs?${q}`, {
    signal: ctx.signal,
  });
  if (data.data.length === 0) {
    body.append(h("tr", null, h("td", { colspan: 7, class: "muted" }, "No jobs yet.")));
  }
  for (const job of data.data) {
    body.append(
      h(
        "tr",
        null,
        h("td", null, h("a", { href: `#/jobs/${encodeURIComponent(job.id)}`, class: "mono", title: job.id }, job.id)),
        h("td", null, statusBadge(job.status)),
        h("td", null, job.template?.ref ?? "—"),
        h("td", null, when(job.created_at)),
        h("td", null, job.pool),
        h("td", null, job.progress ? h("progress", { value: job.progress.value, max: job.progress.max || 1 }) : "—"),
        h("td", null, ms(job.stats.run_ms)),
      ),
    );
  }
  const links = [];
  if (cursor !== null) {
    const prev = back.at(-1) ?? "";
    links.push(h("a", { href: hashFor(status, prev || null, back.slice(0, -1)), class: "button" }, "Previous"));
  }
  if (data.next_cursor) {
    links.push(h("a", { href: hashFor(status, data.next_cursor, [...back, cursor ?? ""]), class: "button" }, "Next"));
  }
  fill(pager, links);
}
