/**
 * Usage: GET /v1/usage as totals and per-day bar charts (inline SVG, no chart library), and the tenant's own
 * request rate, latency and errors over the last hour or day (GET /v1/usage/stats).
 */
import { call } from "../api.ts";
import { barChart, type Point } from "../charts.ts";
import type { PageContext } from "../context.ts";
import { h, ms, page } from "../dom.ts";
import { type StatsReport, statsView, windowOf, windowSwitch } from "../stats-view.ts";
import { table } from "../table.ts";

type Counts = Record<string, number>;
interface Usage {
  from: string;
  to: string;
  key: { key_id: string; totals: Counts; days: Array<Counts & { day: string }> };
  tenant: { tenant_id: string; totals: Counts };
  jobs: { key: Counts; tenant: Counts };
}

/** Every UTC day from `from` to `to`, with the report's counts where it has a row and zeros elsewhere. */
function everyDay(from: string, to: string, days: Array<Counts & { day: string }>, field: string) {
  const byDay = new Map(days.map((d) => [d.day, d[field] ?? 0]));
  const out: Point[] = [];
  for (let t = Date.parse(from); t <= Date.parse(to) && out.length < 400; t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push({ label: day, tick: day.slice(5), value: byDay.get(day) ?? 0 });
  }
  return out;
}

export async function usagePage(ctx: PageContext): Promise<void> {
  const window = windowOf(ctx.query);
  const [{ data }, { data: stats }] = await Promise.all([
    call<Usage>(ctx.session, "/v1/usage", { signal: ctx.signal }),
    call<StatsReport>(ctx.session, `/v1/usage/stats?window=${window}`, { signal: ctx.signal }),
  ]);
  const totals = [
    { scope: `This key (${data.key.key_id})`, ...data.key.totals, ...prefixed(data.jobs.key) },
    { scope: `Tenant (${data.tenant.tenant_id})`, ...data.tenant.totals, ...prefixed(data.jobs.tenant) },
  ];
  ctx.root.append(
    page(
      "Usage",
      h("p", { class: "muted" }, `${data.from} to ${data.to} (UTC days). Counts reach the report within about 10 s.`),
      table(
        totals,
        [
          ["scope", ""],
          ["requests", "Requests"],
          ["llm_requests", "LLM requests"],
          ["total_tokens", "Tokens"],
          ["cache_hits", "Cache hits"],
          ["tokens_saved", "Tokens saved"],
          ["jobs_finished", "Jobs finished"],
          ["jobs_succeeded", "Jobs succeeded"],
          ["jobs_gpu_ms", "GPU time"],
        ],
        { jobs_gpu_ms: (r) => ms(Number(r.jobs_gpu_ms)) },
        "Totals",
      ),
      h(
        "div",
        { class: "charts" },
        barChart("Requests per day (this key)", everyDay(data.from, data.to, data.key.days, "requests")),
        barChart("Tokens per day (this key)", everyDay(data.from, data.to, data.key.days, "total_tokens")),
      ),
      h("h2", null, "Requests and latency (this tenant)"),
      windowSwitch(window, (w) => `#/usage?window=${w}`),
      statsView(stats),
    ),
  );
}

function prefixed(jobs: Counts): Counts {
  return { jobs_finished: jobs.finished ?? 0, jobs_succeeded: jobs.succeeded ?? 0, jobs_gpu_ms: jobs.gpu_ms ?? 0 };
}
