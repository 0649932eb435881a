/**
 * Monitoring (operator): GET /admin/v1/stats over the last hour or day for one category of requests (the
 * clients' API by default; the admin API; the runners' protocol, whose long polls wait by design): a table of
 * the categories, totals, charts of requests, errors and p95 latency, and tables per route and per tenant or
 * caller. A category, tenant or route link narrows the view to it.
 */
import { call } from "../api.ts";
import type { PageContext } from "../context.ts";
import { h, page } from "../dom.ts";
import {
  CATEGORY_LABELS,
  type Category,
  callerFilter,
  callerLabel,
  type StatsReport,
  statsView,
  type Window,
  windowOf,
  windowSwitch,
} from "../stats-view.ts";
import { table } from "../table.ts";

type Scope = Category | "all";
const SCOPES: Scope[] = ["api", "runner", "admin", "all"];

interface Filters {
  window: Window;
  category: Scope;
  tenant: string | null;
  route: string | null;
}

function hashFor(f: Filters): string {
  const q = new URLSearchParams({ window: f.window });
  if (f.category !== "api") q.set("category", f.category);
  if (f.tenant) q.set("tenant", f.tenant);
  if (f.route) q.set("route", f.route);
  return `#/monitoring?${q}`;
}

function scopeOf(query: URLSearchParams): Scope {
  const v = query.get("category");
  return SCOPES.find((s) => s === v) ?? "api";
}

/** Links to each category (the current one marked). */
function categorySwitch(f: Filters): HTMLElement {
  return h(
    "nav",
    { class: "toolbar", "aria-label": "Requests" },
    h("span", { class: "muted" }, "Requests:"),
    SCOPES.map((c) =>
      h(
        "a",
        {
          href: hashFor({ ...f, category: c, route: null }),
          class: c === f.category ? "button primary" : "button",
          "aria-current": c === f.category && "page",
        },
        CATEGORY_LABELS[c],
      ),
    ),
  );
}

export async function monitoringPage(ctx: PageContext): Promise<void> {
  const f: Filters = {
    window: windowOf(ctx.query),
    category: scopeOf(ctx.query),
    tenant: ctx.query.get("tenant"),
    route: ctx.query.get("route"),
  };
  const q = new URLSearchParams({ window: f.window, category: f.category });
  if (f.tenant) q.set("tenant", f.tenant);
  if (f.route) q.set("route", f.route);
  const { data } = await call<StatsReport>(ctx.session, `/admin/v1/stats?${q}`, { signal: ctx.signal });
  const tenantName = (t: string) => (/^ten_/.test(t) ? t : callerLabel({ caller: t === "-" ? "no_key" : t }));
  const narrowed = [
    f.tenant ? `tenant ${f.tenant === "-" ? "(every caller without a tenant)" : tenantName(f.tenant)}` : null,
    f.route ? `route ${f.route}` : null,
  ].filter(Boolean);
  ctx.root.append(
    page(
      "Monitoring",
      windowSwitch(f.window, (window) => hashFor({ ...f, window })),
      categorySwitch(f),
      narrowed.length > 0
        ? h(
            "p",
            null,
            `Showing ${narrowed.join(", ")}. `,
            h(
              "a",
              { href: hashFor({ window: f.window, category: f.category, tenant: null, route: null }) },
              "Show everything",
            ),
          )
        : null,
      data.categories
        ? table(
            data.categories,
            [
              ["category", "Category"],
              ["requests", "Requests"],
              ["p95_ms", "p95"],
              ["client_error_rate", "4xx rate"],
              ["error_rate", "5xx rate"],
              ["expected", "Expected 4xx"],
            ],
            {
              category: (r) =>
                h(
                  "a",
                  { href: hashFor({ ...f, category: r.category as Category, route: null }) },
                  CATEGORY_LABELS[r.category as Category],
                ),
              p95_ms: (r) => (r.p95_ms === null ? "—" : `${Math.round(Number(r.p95_ms))} ms`),
              client_error_rate: (r) => `${(Number(r.client_error_rate) * 100).toFixed(1)} %`,
              error_rate: (r) => `${(Number(r.error_rate) * 100).toFixed(1)} %`,
            },
            "By category",
            false,
          )
        : null,
      h("h2", { class: "section" }, CATEGORY_LABELS[f.category]),
      statsView(data, {
        routeCell: (r) => h("a", { href: hashFor({ ...f, route: String(r.route) }) }, String(r.route)),
        tenantCell: (r) => h("a", { href: hashFor({ ...f, tenant: callerFilter(r) }) }, callerLabel(r)),
      }),
    ),
  );
}
