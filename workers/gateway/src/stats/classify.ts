/**
 * What a measured request is, for monitoring (pure): its category (the tenant-facing API, the admin API or
 * the runner protocol), whether its route is a long poll (waits by design), whether its answer is the route's
 * normal protocol outcome although its status is 4xx, and who called (tenant id or a caller label).
 *
 * Categories come from the route pattern, so they need no column of their own: `/runner/...` is the runner
 * protocol (runner tokens), `/admin/...` the operator's API, everything else (the `/v1` API, public pages,
 * unmatched paths) is what clients experience.
 */

export const CATEGORIES = ["api", "admin", "runner"] as const;
export type Category = (typeof CATEGORIES)[number];

export function routeCategory(route: string): Category {
  if (route.startsWith("/runner/")) return "runner";
  if (route.startsWith("/admin/")) return "admin";
  return "api";
}

/** SQL predicate on `route` that selects one category (the prefixes of routeCategory). */
export function categoryPredicate(category: Category): string {
  if (category === "runner") return "route LIKE '/runner/%'";
  if (category === "admin") return "route LIKE '/admin/%'";
  return "route NOT LIKE '/runner/%' AND route NOT LIKE '/admin/%'";
}

/** Runner long polls (routes/runner.ts): they hold the request up to `wait_s` when nothing happens. */
const LONG_POLLS = new Set(["POST /runner/v1/lease", "POST /runner/v1/leases/:id/cancel-wait"]);

export function isLongPoll(method: string, route: string): boolean {
  return LONG_POLLS.has(`${method} ${route}`);
}

/**
 * 4xx answers that are a route's normal outcome in the runner protocol, by error code:
 * - cancel-wait `409 lease_lost`: the job ended (the runner reported it) while the cancel-wait was parked;
 *   every job that runs longer than the first cancel-wait delay ends its cancel-wait this way;
 * - lease `409 capabilities_required`: the runner is asked for its capability report, sends it, leases again.
 * (A long poll with no news is already a 2xx: lease 204, cancel-wait `{cancel: false}`.)
 */
const EXPECTED = new Set([
  "POST /runner/v1/leases/:id/cancel-wait 409 lease_lost",
  "POST /runner/v1/lease 409 capabilities_required",
]);

export function isExpectedOutcome(method: string, route: string, status: number, code: string | null): boolean {
  return code !== null && EXPECTED.has(`${method} ${route} ${status} ${code}`);
}

/** Stored caller labels of requests without a tenant (tenant ids start with `ten_`, so they never clash). */
export const UNAUTHENTICATED = "(unauthenticated)";
const ADMIN = "(admin)";
const RUNNER = "(runner)";

export type Caller = "tenant" | "unauthenticated" | "admin" | "runner" | "no_key";

/**
 * The `tenant_id` column of a request: its API key's tenant; without one, `(unauthenticated)` for a 401 (the
 * request was refused at authentication), `(admin)` / `(runner)` on those routes, `''` otherwise (public
 * routes, unmatched paths). The key check's 403/429 name the key's tenant (`refusedTenantId`).
 */
export function callerKey(tenantId: string | undefined, status: number, route: string): string {
  if (tenantId) return tenantId;
  if (status === 401) return UNAUTHENTICATED;
  const category = routeCategory(route);
  if (category === "admin") return ADMIN;
  if (category === "runner") return RUNNER;
  return "";
}

export function callerOf(key: string): { tenant_id: string | null; caller: Caller } {
  if (key === UNAUTHENTICATED) return { tenant_id: null, caller: "unauthenticated" };
  if (key === ADMIN) return { tenant_id: null, caller: "admin" };
  if (key === RUNNER) return { tenant_id: null, caller: "runner" };
  if (key === "") return { tenant_id: null, caller: "no_key" };
  return { tenant_id: key, caller: "tenant" };
}

/** The `tenant` filter of GET /admin/v1/stats: a tenant id, a caller name, or `-` (every request without a tenant). */
export function tenantFilter(value: string): { sql: string; params: string[]; label: string } {
  if (value === "-") return { sql: "tenant_id NOT LIKE 'ten\\_%' ESCAPE '\\'", params: [], label: "-" };
  const labels: Record<string, string> = { unauthenticated: UNAUTHENTICATED, admin: ADMIN, runner: RUNNER, no_key: "" };
  const stored = labels[value];
  return { sql: "tenant_id = ?", params: [stored ?? value], label: value };
}
