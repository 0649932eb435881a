/**
 * Pool groups (docs/capabilities.md "Regions and failover"), pure: the order of a group's members by
 * nearness to a request, and the member a job goes to given what each member can do now. Used at submit
 * (gateway) and when a re-queued job may move (queue consumer).
 */

/** Where a request comes from: Cloudflare's `request.cf` continent and colo, and the tenant's affinity. */
export interface Nearness {
  /** `request.cf.continent`: AF, AN, AS, EU, NA, OC, SA. */
  continent?: string | null;
  /** `request.cf.colo`: the data centre's IATA code (FRA, IAD, ...). */
  colo?: string | null;
  /** The tenant's region affinity (admin API), preferred over the request's location. */
  affinity?: string | null;
}

export interface GroupMemberSpec {
  pool: string;
  region: string | null;
  weight: number;
}

/** Region name prefixes by continent: `eu-west`, `us-east-1`, `ap-south`, `weur`, `enam`, ... */
const CONTINENT_PREFIXES: ReadonlyArray<[string, string[]]> = [
  ["EU", ["eu", "europe", "weur", "eeur"]],
  ["NA", ["us", "na", "ca", "north-america", "enam", "wnam"]],
  ["SA", ["sa", "south-america", "br", "latam"]],
  ["AS", ["ap", "as", "asia", "apac", "me", "in", "jp", "kr", "sg"]],
  ["OC", ["oc", "au", "nz", "oceania"]],
  ["AF", ["af", "africa", "za"]],
];

/** The continent code a region name points to (`eu-west` -> EU, `NA` -> NA), or null. */
export function regionContinent(region: string): string | null {
  const r = region.toLowerCase();
  for (const [code, prefixes] of CONTINENT_PREFIXES) {
    if (r === code.toLowerCase()) return code;
    if (prefixes.some((p) => r === p || r.startsWith(`${p}-`) || r.startsWith(`${p}_`))) return code;
  }
  return null;
}

/**
 * 0: the member's region is the tenant's affinity or the request's colo; 1: on the affinity's continent
 * (with an affinity) or the request's continent; 2: elsewhere or unknown.
 */
export function distance(region: string | null, near: Nearness): number {
  if (!region) return 2;
  const r = region.toLowerCase();
  if (near.affinity) {
    if (r === near.affinity.toLowerCase()) return 0;
    const want = regionContinent(near.affinity);
    return want !== null && regionContinent(region) === want ? 1 : 2;
  }
  if (near.colo && r === near.colo.toLowerCase()) return 0;
  if (near.continent && regionContinent(region) === near.continent.toUpperCase()) return 1;
  return 2;
}

/** Members nearest first; among equally near ones, higher weight first; then the group's order. */
export function orderMembers<T extends GroupMemberSpec>(members: T[], near: Nearness): T[] {
  return members
    .map((m, i) => ({ m, i, d: distance(m.region, near) }))
    .sort((a, b) => a.d - b.d || b.m.weight - a.m.weight || a.i - b.i)
    .map((x) => x.m);
}

/** What one member can do for a job now. */
export interface MemberState {
  pool: string;
  /** Has a live runner. */
  live: boolean;
  /** Some live runner can run the job (capabilities). */
  capable: boolean;
  /** Wait estimate of a job queued now (null: unknown, no live runner). */
  wait_s: number | null;
}

/**
 * The first member (in preference order) with a live runner able to run the job and a wait within
 * `maxWaitS`; else the able member with the smallest wait (all are above the threshold); else null.
 */
export function pickMember(ordered: MemberState[], maxWaitS: number | null): MemberState | null {
  const able = ordered.filter((m) => m.live && m.capable);
  const within = able.find((m) => maxWaitS === null || m.wait_s === null || m.wait_s <= maxWaitS);
  if (within) return within;
  let best: MemberState | null = null;
  for (const m of able) if (best === null || (m.wait_s ?? Infinity) < (best.wait_s ?? Infinity)) best = m;
  return best;
}

/** `group:<name>` -> the group's name; null for a plain pool name. */
export function groupTarget(pool: string): string | null {
  return pool.startsWith("group:") ? pool.slice("group:".length) : null;
}
