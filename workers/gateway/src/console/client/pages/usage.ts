/** Usage: GET /v1/usage as totals and per-day bar charts (inline SVG, no chart library). */
import { call } from "../api.ts";
import type { PageContext } from "../context.ts";
import { h, ms, page } from "../dom.ts";
import { table } from "../table.ts";

type Counts = Record<string, number>;
interface Usage {
  from: string;
  to: string;
  key: { key_id: string; totals: Counts; days: Array<Counts & { day: string }> };
  tenant: { tenant_id: string; totals: Counts };
  jobs: { key: Counts; tenant: Counts };
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A bar per day; the figure's caption and each bar's <title> carry the numbers for screen readers. */
export function barChart(title: string, points: Array<{ label: string; value: number }>): HTMLElement {
  const width = 600;
  const height = 160;
  const peak = Math.max(0, ...points.map((p) => p.value));
  const max = Math.max(1, peak);
  const band = width / Math.max(1, points.length);
  const chart = svg("svg", {
    viewBox: `-16 0 ${width + 32} ${height + 20}`,
    role: "img",
    "aria-label": title,
    class: "chart",
  });
  points.forEach((p, i) => {
    const bar = Math.round((p.value / max) * height);
    const rect = svg("rect", { x: i * band + band * 0.15, y: height - bar, width: band * 0.7, height: bar });
    rect.append(svg("title", {}, `${p.label}: ${p.value}`));
    chart.append(rect);
    if (points.length <= 14 || i % Math.ceil(points.length / 10) === 0) {
      chart.append(svg("text", { x: i * band + band / 2, y: height + 14, "text-anchor": "middle" }, p.label.slice(5)));
    }
  });
  return h(
    "figure",
    { class: "card" },
    h("figcaption", null, peak > 0 ? `${title} (peak ${peak})` : `${title}: none yet`),
    chart,
  );
}

/** Every UTC day from `from` to `to`, with the report's counts where it has a row and zeros elsewhere. */
function everyDay(from: string, to: string, days: Array<Counts & { day: string }>, field: string) {
  const byDay = new Map(days.map((d) => [d.day, d[field] ?? 0]));
  const out: Array<{ label: string; value: number }> = [];
  for (let t = Date.parse(from); t <= Date.parse(to) && out.length < 400; t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push({ label: day, value: byDay.get(day) ?? 0 });
  }
  return out;
}

export async function usagePage(ctx: PageContext): Promise<void> {
  const { data } = await call<Usage>(ctx.session, "/v1/usage", { signal: ctx.signal });
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
    ),
  );
}

function prefixed(jobs: Counts): Counts {
  return { jobs_finished: jobs.finished ?? 0, jobs_succeeded: jobs.succeeded ?? 0, jobs_gpu_ms: jobs.gpu_ms ?? 0 };
}
