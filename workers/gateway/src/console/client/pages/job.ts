/**
 * One job: status and actions (cancel, delete), live progress while it runs, the event timeline, inputs
 * (metadata, template inputs and the values the runner resolved, such as seeds), outputs, the error with its
 * node, and webhook deliveries with redeliver.
 */
import { ApiFailure, call } from "../api.ts";
import type { PageContext } from "../context.ts";
import { errorBox, fill, h, ms, page, statusBadge, toast, when } from "../dom.ts";
import { gallery } from "../outputs.ts";
import { progressView } from "../progress.ts";
import { readEvents } from "../sse.ts";
import { type Job, type JobEvent, parseEvent, TERMINAL } from "../types.ts";
import { deliveriesSection } from "./deliveries.ts";

function eventDetail(e: JobEvent): string {
  const { sequence: _s, type: _t, at: _a, ...rest } = e;
  return Object.keys(rest).length === 0 ? "" : JSON.stringify(rest);
}

export function errorView(job: Job): HTMLElement | null {
  if (!job.error) return null;
  const e = job.error;
  return h(
    "section",
    { class: "card failure", "aria-labelledby": "error-title" },
    h("h2", { id: "error-title" }, "Error"),
    h("p", null, h("code", null, e.code), " ", e.message),
    e.node_id
      ? h(
          "p",
          null,
          "Failed at ",
          h(
            "mark",
            { class: "node", "data-node-id": e.node_id },
            `node ${e.node_id}${e.node_type ? ` (${e.node_type})` : ""}`,
          ),
        )
      : null,
    e.details !== undefined ? h("pre", null, JSON.stringify(e.details, null, 2)) : null,
  );
}

function summary(job: Job): HTMLElement {
  const rows: Array<[string, string]> = [
    ["Created", when(job.created_at)],
    ["Started", when(job.started_at)],
    ["Completed", when(job.completed_at)],
    ["Pool", job.pool],
    ["Attempt", String(job.attempt)],
    ["Queued for", ms(job.stats.queue_ms)],
    ["Ran for", ms(job.stats.run_ms)],
    ["Upload", ms(job.stats.upload_ms)],
  ];
  if (job.template) rows.push(["Template", job.template.ref]);
  if (job.cached_from) rows.push(["Cached from", job.cached_from]);
  if (job.status === "queued") {
    if (job.queue_position !== undefined) rows.push(["Place in queue", String(job.queue_position)]);
    if (job.estimated_start_at !== undefined) {
      rows.push(["Estimated start", job.estimated_start_at ? when(job.estimated_start_at) : "no live runner"]);
    }
    const w = job.waiting_for;
    if (w)
      rows.push([
        "Waiting for",
        "node_class" in w ? `node class ${w.node_class}` : `${w.model.folder}/${w.model.name}`,
      ]);
  }
  return h(
    "dl",
    { class: "facts" },
    rows.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v))),
  );
}

function inputsView(job: Job, fromEvents: unknown): HTMLElement {
  const parts: Array<[string, unknown]> = [];
  if (job.template) parts.push([`Inputs of ${job.template.ref}`, job.template.inputs]);
  const resolved = job.resolved_inputs ?? fromEvents;
  if (resolved) parts.push(["Chosen by the runner (seeds given as -1), by node", resolved]);
  parts.push(["Metadata", job.metadata]);
  return h(
    "section",
    { class: "card", "aria-labelledby": "inputs-title" },
    h("h2", { id: "inputs-title" }, "Inputs"),
    parts.map(([title, value]) => [h("h3", null, title), h("pre", null, JSON.stringify(value, null, 2))]),
  );
}

export async function jobPage(ctx: PageContext): Promise<void> {
  const id = ctx.params[0] ?? "";
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  const head = h("div", { class: "toolbar" });
  const status = h("div");
  const live = progressView();
  const timeline = h("ol", { class: "timeline", "aria-label": "Event timeline" });
  const inputs = h("div");
  const failure = h("div");
  const outputs = h("div");
  const deliveries = h("div");
  ctx.root.append(
    page(
      `Job ${id}`,
      head,
      status,
      live.el,
      failure,
      h(
        "section",
        { class: "card", "aria-labelledby": "outputs-title" },
        h("h2", { id: "outputs-title" }, "Outputs"),
        outputs,
      ),
      inputs,
      h(
        "section",
        { class: "card", "aria-labelledby": "timeline-title" },
        h("h2", { id: "timeline-title" }, "Timeline"),
        timeline,
      ),
      deliveries,
    ),
  );
  let resolved: unknown = null;

  const show = (job: Job) => {
    const actions = [];
    if (!TERMINAL.has(job.status)) {
      actions.push(
        h(
          "button",
          { type: "button", class: "danger", disabled: job.cancel_requested, onclick: () => void act("cancel") },
          job.cancel_requested ? "Canceling…" : "Cancel",
        ),
      );
    } else {
      actions.push(h("button", { type: "button", class: "danger", onclick: () => void act("delete") }, "Delete"));
    }
    fill(head, statusBadge(job.status), h("a", { href: "#/jobs", class: "button" }, "All jobs"), actions);
    fill(status, summary(job));
    live.el.hidden = TERMINAL.has(job.status);
    fill(failure, errorView(job));
    fill(outputs, gallery(ctx.session, job.id, job.outputs));
    fill(inputs, inputsView(job, resolved));
  };

  const refresh = async () => {
    const { data } = await call<Job>(ctx.session, path, { signal: ctx.signal });
    show(data);
    return data;
  };

  const act = async (what: "cancel" | "delete") => {
    if (what === "delete" && !confirm(`Delete job ${id} and its outputs?`)) return;
    try {
      if (what === "cancel") {
        await call(ctx.session, `${path}/cancel`, { method: "POST" });
        toast("Cancel requested.");
        await refresh();
      } else {
        await call(ctx.session, path, { method: "DELETE" });
        toast(`Job ${id} deleted.`);
        location.hash = "#/jobs";
      }
    } catch (err) {
      status.append(errorBox(err));
    }
  };

  let job: Job;
  try {
    job = await refresh();
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 404) {
      fill(ctx.root, page("Job not found", h("p", null, err.message), h("a", { href: "#/jobs" }, "All jobs")));
      return;
    }
    throw err;
  }
  fill(deliveries, deliveriesSection(ctx, id));

  // The timeline: past events replayed, then live ones until the job ends.
  await readEvents(
    ctx.session,
    `${path}/events`,
    (m) => {
      const e = parseEvent(m.data);
      if (!e) return;
      live.update(e);
      if (e.type === "preview") return; // a live frame (shown by `live`), not part of the timeline
      if (e.type === "started" && e.resolved_inputs) resolved = e.resolved_inputs;
      if (e.type !== "progress" || timeline.childElementCount < 200) {
        timeline.append(
          h(
            "li",
            { "data-type": e.type },
            h("time", { datetime: e.at }, when(e.at)),
            " ",
            h("strong", null, e.type),
            " ",
            h("code", null, eventDetail(e)),
          ),
        );
      }
      if (TERMINAL.has(e.type) || e.type === "started" || e.type === "output") {
        void refresh().catch(() => {});
      }
    },
    ctx.signal,
  );
  if (!TERMINAL.has(job.status)) await refresh();
  else fill(inputs, inputsView(job, resolved));
}
