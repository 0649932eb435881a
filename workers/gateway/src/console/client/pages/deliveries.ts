/** Webhook deliveries of one job, with redeliver (all, or one event). */
import { call, optional } from "../api.ts";
import type { PageContext } from "../context.ts";
import { errorBox, fill, h, ms, toast, when } from "../dom.ts";

interface Delivery {
  id: string;
  event: string;
  sequence: number;
  url: string;
  status: string;
  attempts: number;
  status_code: number | null;
  latency_ms: number | null;
  next_retry_at: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export function deliveriesSection(ctx: PageContext, jobId: string): HTMLElement {
  const base = `/v1/jobs/${encodeURIComponent(jobId)}/webhook-deliveries`;
  const body = h("div");
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "deliveries-title" },
    h("h2", { id: "deliveries-title" }, "Webhook deliveries"),
    body,
  );
  const redeliver = async (ids?: string[]) => {
    try {
      await call(ctx.session, `${base}/redeliver`, { method: "POST", body: ids ? { event_ids: ids } : {} });
      toast(ids ? `Event ${ids[0]} queued for redelivery.` : "Every event queued for redelivery.");
      await load();
    } catch (err) {
      body.append(errorBox(err));
    }
  };
  const load = async () => {
    const data = await optional<{ data: Delivery[] }>(ctx.session, base);
    if (!data || data.data.length === 0) {
      fill(body, h("p", { class: "muted" }, "No webhook for this job."));
      return;
    }
    fill(
      body,
      h(
        "div",
        { class: "toolbar" },
        h("button", { type: "button", onclick: () => void redeliver() }, "Redeliver all"),
        h("button", { type: "button", class: "link", onclick: () => void load() }, "Refresh"),
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
              ["Event", "Status", "HTTP", "Attempts", "Latency", "Updated", "Error", ""].map((t) =>
                h("th", { scope: "col" }, t),
              ),
            ),
          ),
          h(
            "tbody",
            null,
            data.data.map((d) =>
              h(
                "tr",
                { "data-delivery": d.id },
                h("td", null, d.event),
                h("td", null, h("span", { class: `badge ${d.status}` }, d.status)),
                h("td", null, d.status_code ?? "—"),
                h("td", null, d.attempts),
                h("td", null, ms(d.latency_ms)),
                h("td", null, when(d.updated_at)),
                h("td", null, d.last_error ?? ""),
                h(
                  "td",
                  null,
                  h(
                    "button",
                    {
                      type: "button",
                      class: "small",
                      "aria-label": `Redeliver ${d.event}`,
                      onclick: () => void redeliver([d.id]),
                    },
                    "Redeliver",
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  };
  load().catch((err: unknown) => body.append(errorBox(err)));
  return section;
}
