/**
 * Reads `request_stats` for a window (one D1 batch of grouped queries: counts and merged histogram buckets
 * per route, per tenant and per series point) and builds the report (report.ts).
 */
import type { RequestStats } from "@comfy-edge/shared/contract/stats";
import { type CountRow, emptyGroup, figures, groupRows, type HistRow, mergeGroup, series, span } from "./report.ts";

export interface StatsFilter {
  window: "1h" | "24h";
  /** Only this tenant ('' = requests without an API key); undefined: all. */
  tenantId?: string;
  route?: string;
  /** Leave out the per-tenant breakdown (the tenant's own view). */
  perTenant: boolean;
}

const SUMS = `SUM(requests) AS requests, SUM(status_2xx) AS status_2xx, SUM(status_3xx) AS status_3xx,
  SUM(status_4xx) AS status_4xx, SUM(status_5xx) AS status_5xx, SUM(latency_ms_sum) AS latency_ms_sum`;

export async function readStats(db: D1Database, filter: StatsFilter, now: number): Promise<RequestStats> {
  const s = span(filter.window, now);
  let where = "minute >= ? AND minute <= ?";
  const params: Array<string | number> = [s.fromMinute, s.toMinute];
  if (filter.tenantId !== undefined) {
    where += " AND tenant_id = ?";
    params.push(filter.tenantId);
  }
  if (filter.route !== undefined) {
    where += " AND route = ?";
    params.push(filter.route);
  }
  // `dims` are the first `groupBy` columns of each query; the histogram query adds the bucket.
  const grouped = (dims: string, groupBy: string) => [
    db.prepare(`SELECT ${dims}, ${SUMS} FROM request_stats WHERE ${where} GROUP BY ${groupBy}`),
    db.prepare(
      `SELECT ${dims}, CAST(j.key AS INTEGER) AS b, SUM(j.value) AS n
         FROM request_stats, json_each(request_stats.latency_hist) AS j WHERE ${where}
         GROUP BY ${groupBy}, b`,
    ),
  ];
  const slot = `(minute - ${s.fromMinute}) / ${s.stepMinutes} AS slot`;
  const statements = [
    ...grouped("route, method", "1, 2"),
    ...grouped(slot, "1"),
    ...(filter.perTenant ? grouped("tenant_id", "1") : []),
  ].map((st) => st.bind(...params));
  const results = await db.batch<Record<string, unknown>>(statements);
  const rows = (i: number) => (results[i]?.results ?? []) as CountRow[];
  const routeKey = (r: Record<string, unknown>) => `${String(r.method)} ${String(r.route)}`;
  const routes = groupRows(rows(0), rows(1) as HistRow[], routeKey);
  const slots = groupRows(rows(2), rows(3) as HistRow[], (r) => String(r.slot));
  const totals = emptyGroup();
  for (const g of routes.values()) mergeGroup(totals, g);
  const report: RequestStats = {
    object: "request_stats",
    window: filter.window,
    from: new Date(s.fromMinute * 60_000).toISOString(),
    to: new Date(now).toISOString(),
    step_s: s.stepMinutes * 60,
    tenant_id: filter.tenantId === undefined ? null : filter.tenantId || "-",
    route: filter.route ?? null,
    totals: figures(totals, s.windowS),
    routes: [...routes]
      .map(([key, g]) => {
        const space = key.indexOf(" ");
        return { method: key.slice(0, space), route: key.slice(space + 1), ...figures(g, s.windowS) };
      })
      .sort((a, b) => b.requests - a.requests),
    series: series(s, slots),
  };
  if (filter.perTenant) {
    const tenants = groupRows(rows(4), rows(5) as HistRow[], (r) => String(r.tenant_id));
    report.tenants = [...tenants]
      .map(([id, g]) => ({ tenant_id: id === "" ? null : id, ...figures(g, s.windowS) }))
      .sort((a, b) => b.requests - a.requests);
  }
  return report;
}
