/**
 * A request-stats report (GET /admin/v1/stats or /v1/usage/stats) on screen: the window switch, the totals,
 * charts of requests, errors and p95 latency over the window, and tables per route (and per tenant or caller).
 */
import { barChart, lineChart, type Point } from "./charts.ts";
import { h } from "./dom.ts";
import { type Cell, table } from "./table.ts";

export type Figures = {
  requests: number;
  rps: number;
  p50_ms: number | null;
  p95_ms: number | null;
  mean_ms: number | null;
  error_rate: number;
  client_error_rate: number;
  /** 4xx answers that are the route's normal protocol outcome (not in the error rates). */
  expected?: number;
  status: Record<string, number>;
};

export type Category = "api" | "admin" | "runner";
export type Caller = "tenant" | "unauthenticated" | "admin" | "runner" | "no_key";

export interface StatsReport {
  window: "1h" | "24h";
  from: string;
  to: string;
  step_s: number;
  tenant_id: string | null;
  route: string | null;
  category?: Category | "all";
  totals: Figures;
  categories?: Array<Figures & { category: Category }>;
  routes: Array<Figures & { method: string; route: string; category?: Category; long_poll?: boolean }>;
  tenants?: Array<Figures & { tenant_id: string | null; caller?: Caller }>;
  series: Array<{
    t: string;
    requests: number;
    client_errors: number;
    errors: number;
    p50_ms: number | null;
    p95_ms: number | null;
  }>;
}

export const WINDOWS = ["1h", "24h"] as const;
export type Window = (typeof WINDOWS)[number];

export function windowOf(query: URLSearchParams): Window {
  return query.get("window") === "24h" ? "24h" : "1h";
}

export const CATEGORY_LABELS: Record<Category | "all", string> = {
  api: "API (clients)",
  admin: "Admin API",
  runner: "Runners",
  all: "Everything",
};

const CALLER_LABELS: Record<Exclude<Caller, "tenant">, string> = {
  unauthenticated: "unauthenticated (refused, 401)",
  admin: "admin token",
  runner: "runner tokens",
  no_key: "no key (public pages, unknown paths)",
};

/** A per-tenant row's name: the tenant id, or what called without a tenant. */
export function callerLabel(row: { tenant_id?: unknown; caller?: unknown }): string {
  const caller = (row.caller ?? (row.tenant_id ? "tenant" : "no_key")) as Caller;
  return caller === "tenant" ? String(row.tenant_id) : CALLER_LABELS[caller];
}

/** The `tenant` filter value of a per-tenant row (tenant id or caller name). */
export function callerFilter(row: { tenant_id?: unknown; caller?: unknown }): string {
  const caller = (row.caller ?? (row.tenant_id ? "tenant" : "-")) as string;
  return caller === "tenant" ? String(row.tenant_id) : caller;
}

const latency = (v: number | null) => (v === null ? "—" : v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`);
const percent = (v: number) => `${(v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1)} %`;
const rate = (v: number) => (v >= 10 ? v.toFixed(1) : v.toFixed(v >= 0.1 ? 2 : 4));

/** Links to the same page with each window (the current one marked). */
export function windowSwitch(current: Window, href: (w: Window) => string): HTMLElement {
  return h(
    "nav",
    { class: "toolbar", "aria-label": "Time window" },
    h("span", { class: "muted" }, "Window:"),
    WINDOWS.map((w) =>
      h(
        "a",
        { href: href(w), class: w === current ? "button primary" : "button", "aria-current": w === current && "page" },
        w === "1h" ? "Last hour" : "Last day",
      ),
    ),
  );
}

function summary(t: Figures): HTMLElement {
  const item = (label: string, value: string) => h("div", null, h("dt", null, label), h("dd", null, value));
  return h(
    "dl",
    { class: "stats-summary" },
    item("Requests", String(t.requests)),
    item("Requests/s", rate(t.rps)),
    item("p50", latency(t.p50_ms)),
    item("p95", latency(t.p95_ms)),
    item("4xx", percent(t.client_error_rate)),
    item("5xx", percent(t.error_rate)),
  );
}

const FIGURE_COLUMNS: Array<[string, string]> = [
  ["requests", "Requests"],
  ["rps", "Req/s"],
  ["p50_ms", "p50"],
  ["p95_ms", "p95"],
  ["client_error_rate", "4xx rate"],
  ["error_rate", "5xx rate"],
];

const FIGURE_RENDER: Record<string, (row: Record<string, unknown>) => Cell> = {
  rps: (r) => rate(Number(r.rps)),
  p50_ms: (r) => latency(r.p50_ms as number | null),
  p95_ms: (r) => latency(r.p95_ms as number | null),
  client_error_rate: (r) => percent(Number(r.client_error_rate)),
  error_rate: (r) => percent(Number(r.error_rate)),
  expected: (r) => String(r.expected ?? 0),
};

/** A route cell: the pattern, marked when it is a long poll (its latency is the wait). */
function routeName(row: Record<string, unknown>, name: Node | string): Cell {
  if (!row.long_poll) return name;
  return h(
    "span",
    null,
    name,
    " ",
    h("span", { class: "badge", title: "Waits by design: latency is the wait" }, "long poll"),
  );
}

/** hh:mm in the browser's time zone. */
function tick(iso: string): string {
  const d = new Date(iso);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

export function charts(report: StatsReport): HTMLElement {
  const per = report.step_s === 60 ? "minute" : `${report.step_s / 60} min`;
  const points = (value: (p: StatsReport["series"][number]) => number | null): Point[] =>
    report.series.map((p) => ({ label: new Date(p.t).toLocaleString(), tick: tick(p.t), value: value(p) }));
  return h(
    "div",
    { class: "charts" },
    barChart(
      `Requests per ${per}`,
      points((p) => p.requests),
    ),
    lineChart(
      "p95 latency",
      points((p) => p.p95_ms),
      " ms",
    ),
    barChart(
      `Errors (4xx + 5xx) per ${per}`,
      points((p) => p.client_errors + p.errors),
    ),
  );
}

export interface StatsViewOptions {
  /** Rendering of a route cell (e.g. a link that filters by it). */
  routeCell?: (row: Record<string, unknown>) => Node | string;
  /** Rendering of a tenant cell. */
  tenantCell?: (row: Record<string, unknown>) => Cell;
}

export function statsView(report: StatsReport, options: StatsViewOptions = {}): HTMLElement[] {
  const runners = report.category === "runner" || report.category === "all";
  const columns: Array<[string, string]> = runners ? [...FIGURE_COLUMNS, ["expected", "Expected 4xx"]] : FIGURE_COLUMNS;
  const out: HTMLElement[] = [
    h(
      "p",
      { class: "muted" },
      `${new Date(report.from).toLocaleString()} to ${new Date(report.to).toLocaleString()}. ` +
        "Latency is measured in the gateway up to the answer's headers; counts arrive within about 10 s" +
        (runners
          ? ". Long polls wait by design; expected 4xx (a cancel-wait ending with its job) are not errors."
          : "."),
    ),
    summary(report.totals),
    charts(report),
    table(
      report.routes,
      [["method", "Method"], ["route", "Route"], ...columns],
      { ...FIGURE_RENDER, route: (r) => routeName(r, options.routeCell ? options.routeCell(r) : String(r.route)) },
      "Per route",
      false,
    ),
  ];
  if (report.tenants) {
    out.push(
      table(
        report.tenants,
        [["tenant_id", "Tenant or caller"], ...columns],
        { ...FIGURE_RENDER, tenant_id: options.tenantCell ?? ((r) => callerLabel(r)) },
        "Per tenant",
        false,
      ),
    );
  }
  return out;
}
