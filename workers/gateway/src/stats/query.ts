/**
 * Reads `request_stats` for a window (one D1 batch of grouped queries: counts and merged histogram buckets
 * per route, per tenant and per series point) and builds the report (report.ts). Routes are read across all
 * categories (the `categories` figures come from them); totals, routes shown, series and tenants cover the
 * category asked for (classify.ts: the category is a function of the route pattern).
 */
import type { RequestStats } from "@comfy-edge/shared/contract/stats";
import {
  CATEGORIES,
  type Category,
  callerOf,
  categoryPredicate,
  isLongPoll,
  routeCategory,
  tenantFilter,
} from "./classify.ts";
import { type CountRow, emptyGroup, figures, groupRows, type HistRow, mergeGroup, series, span } from "./report.ts";

export interface StatsFilter {
  window: "1h" | "24h";
  /** A tenant id, a caller name (`unauthenticated`, `admin`, `runner`, `no_key`) or `-`; undefined: all. */
  tenant?: string;
  route?: string;
  /** Which requests the figures cover (default: `api`, or the route's own with a route filter). */
  category?: Category | "all";
  /** Leave out the per-tenant breakdown (the tenant's own view). */
  perTenant: boolean;
}

const SUMS = `SUM(requests) AS requests, SUM(status_2xx) AS status_2xx, SUM(status_3xx) AS status_3xx,
  SUM(status_4xx) AS status_4xx, SUM(status_5xx) AS status_5xx, SUM(status_expected) AS status_expected,
  SUM(latency_ms_sum) AS latency_ms_sum`;

export async function readStats(db: D1Database, filter: StatsFilter, now: number): Promise<RequestStats> {
  const s = span(filter.window, now);
  const category = filter.category ?? (filter.route === undefined ? "api" : routeCategory(filter.route));
  let where = "minute >= ? AND minute <= ?";
  const params: Array<string | number> = [s.fromMinute, s.toMinute];
  const tenant = filter.tenant === undefined ? null : tenantFilter(filter.tenant);
  if (tenant) {
    where += ` AND ${tenant.sql}`;
    params.push(...tenant.params);
  }
  if (filter.route !== undefined) {
    where += " AND route = ?";
    params.push(filter.route);
  }
  const inCategory = category === "all" ? where : `${where} AND ${categoryPredicate(category)}`;
  // `dims` are the first `groupBy` columns of each query; the histogram query adds the bucket.
  const grouped = (w: string, dims: string, groupBy: string) => [
    db.prepare(`SELECT ${dims}, ${SUMS} FROM request_stats WHERE ${w} GROUP BY ${groupBy}`),
    db.prepare(
      `SELECT ${dims}, CAST(j.key AS INTEGER) AS b, SUM(j.value) AS n
         FROM request_stats, json_each(request_stats.latency_hist) AS j WHERE ${w}
         GROUP BY ${groupBy}, b`,
    ),
  ];
  const slot = `(minute - ${s.fromMinute}) / ${s.stepMinutes} AS slot`;
  const statements = [
    ...grouped(where, "route, method", "1, 2"),
    ...grouped(inCategory, slot, "1"),
    ...(filter.perTenant ? grouped(inCategory, "tenant_id", "1") : []),
  ].map((st) => st.bind(...params));
  const results = await db.batch<Record<string, unknown>>(statements);
  const rows = (i: number) => (results[i]?.results ?? []) as CountRow[];
  const routeKey = (r: Record<string, unknown>) => `${String(r.method)} ${String(r.route)}`;
  const routeGroups = groupRows(rows(0), rows(1) as HistRow[], routeKey);
  const slots = groupRows(rows(2), rows(3) as HistRow[], (r) => String(r.slot));
  const byCategory = new Map(CATEGORIES.map((c) => [c, emptyGroup()]));
  const totals = emptyGroup();
  const routes: RequestStats["routes"] = [];
  for (const [key, g] of routeGroups) {
    const space = key.indexOf(" ");
    const method = key.slice(0, space);
    const route = key.slice(space + 1);
    const cat = routeCategory(route);
    mergeGroup(byCategory.get(cat) ?? emptyGroup(), g);
    if (category !== "all" && cat !== category) continue;
    mergeGroup(totals, g);
    routes.push({ method, route, category: cat, long_poll: isLongPoll(method, route), ...figures(g, s.windowS) });
  }
  const report: RequestStats = {
    object: "request_stats",
    window: filter.window,
    from: new Date(s.fromMinute * 60_000).toISOString(),
    to: new Date(now).toISOString(),
    step_s: s.stepMinutes * 60,
    tenant_id: tenant ? tenant.label : null,
    route: filter.route ?? null,
    category,
    totals: figures(totals, s.windowS),
    categories: [...byCategory].map(([c, g]) => ({ category: c, ...figures(g, s.windowS) })),
    routes: routes.sort((a, b) => b.requests - a.requests),
    series: series(s, slots),
  };
  if (filter.perTenant) {
    const tenants = groupRows(rows(4), rows(5) as HistRow[], (r) => String(r.tenant_id));
    report.tenants = [...tenants]
      .map(([id, g]) => ({ ...callerOf(id), ...figures(g, s.windowS) }))
      .sort((a, b) => b.requests - a.requests);
  }
  return report;
}
