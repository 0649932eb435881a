/**
 * Monitoring (operator): GET /admin/v1/stats over the last hour or day: totals, charts of requests, errors
 * and p95 latency, and tables per route and per tenant. A tenant or route link narrows the view to it.
 */
import { call } from "../api.ts";
import type { PageContext } from "../context.ts";
import { h, page } from "../dom.ts";
import { type StatsReport, statsView, type Window, windowOf, windowSwitch } from "../stats-view.ts";

interface Filters {
  window: Window;
  tenant: string | null;
  route: string | null;
}

function hashFor(f: Filters): string {
  const q = new URLSearchParams({ window: f.window });
  if (f.tenant) q.set("tenant", f.tenant);
  if (f.route) q.set("route", f.route);
  return `#/monitoring?${q}`;
}

export async function monitoringPage(ctx: PageContext): Promise<void> {
  const f: Filters = { window: windowOf(ctx.query), tenant: ctx.query.get("tenant"), route: ctx.query.get("route") };
  const q = new URLSearchParams({ window: f.window });
  if (f.tenant) q.set("tenant", f.tenant);
  if (f.route) q.set("route", f.route);
  const { data } = await call<StatsReport>(ctx.session, `/admin/v1/stats?${q}`, { signal: ctx.signal });
  const narrowed = [
    f.tenant ? `tenant ${f.tenant === "-" ? "(no API key)" : f.tenant}` : null,
    f.route ? `route ${f.route}` : null,
  ].filter(Boolean);
  ctx.root.append(
    page(
      "Monitoring",
      windowSwitch(f.window, (window) => hashFor({ ...f, window })),
      narrowed.length > 0
        ? h(
            "p",
            null,
            `Showing ${narrowed.join(", ")}. `,
            h("a", { href: hashFor({ window: f.window, tenant: null, route: null }) }, "Show everything"),
          )
        : null,
      statsView(data, {
        routeCell: (r) => h("a", { href: hashFor({ ...f, route: String(r.route) }) }, String(r.route)),
        tenantCell: (r) => {
          const id = r.tenant_id as string | null;
          return h("a", { href: hashFor({ ...f, tenant: id ?? "-" }) }, id ?? "(no API key)");
        },
      }),
    ),
  );
}
