/**
 * `GET /v1/usage?from=&to=`: the calling key's usage per UTC day and its tenant's totals, from D1
 * `usage_daily` (flushed from the key Durable Objects within about 10 s).
 */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { Hono } from "hono";
import { USAGE_FIELDS } from "../keys/usage-fields.ts";
import { readQuery } from "../lib/body.ts";
import { UsageQuery, UsageReport } from "../llm/schemas.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import { authedJsonErrors } from "../openapi/common.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";
import { usageStatsDocs, usageStatsRoutes } from "./usage-stats.ts";

const DAY_MS = 24 * 3600 * 1000;
const DEFAULT_SPAN_DAYS = 30;
const MAX_SPAN_DAYS = 366;

const COLUMNS = USAGE_FIELDS;

type Counts = Record<(typeof COLUMNS)[number], number>;

function withTotal(row: Partial<Counts>): Counts & { total_tokens: number } {
  const counts = Object.fromEntries(COLUMNS.map((c) => [c, Number(row[c] ?? 0)])) as Counts;
  return { ...counts, total_tokens: counts.prompt_tokens + counts.completion_tokens };
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export const usageRoutes = new Hono<AppEnv>();
usageRoutes.use("*", apiKeyAuth({}));
usageRoutes.route("/stats", usageStatsRoutes);
usageRoutes.get("/", async (c) => {
  const query = readQuery(c, UsageQuery);
  const to = query.to ?? day(Date.now());
  const from = query.from ?? day(Date.parse(to) - (DEFAULT_SPAN_DAYS - 1) * DAY_MS);
  if (from > to) throw new ApiError(400, "invalid_request", "from must not be after to.", { param: "from" });
  if ((Date.parse(to) - Date.parse(from)) / DAY_MS >= MAX_SPAN_DAYS) {
    throw new ApiError(400, "invalid_request", `Ask for at most ${MAX_SPAN_DAYS} days at a time.`, { param: "from" });
  }
  const { keyId, tenantId } = c.get("auth");
  const fromMs = Date.parse(from);
  const toMs = Date.parse(to) + DAY_MS;
  const jobTotals = (column: "key_id" | "tenant_id", id: string) =>
    c.env.DB.prepare(
      `SELECT COUNT(*) AS finished, COALESCE(SUM(status = 'succeeded'), 0) AS succeeded, COALESCE(SUM(run_ms), 0) AS gpu_ms
         FROM jobs_index WHERE ${column} = ? AND completed_at >= ? AND completed_at < ?`,
    ).bind(id, fromMs, toMs);
  const [days, tenant, keyJobs, tenantJobs] = await c.env.DB.batch<
    Partial<Counts> & { day: string } & Record<string, number>
  >([
    c.env.DB.prepare(
      `SELECT day, ${COLUMNS.join(", ")} FROM usage_daily WHERE key_id = ? AND day BETWEEN ? AND ? ORDER BY day`,
    ).bind(keyId, from, to),
    c.env.DB.prepare(
      `SELECT ${COLUMNS.map((col) => `COALESCE(SUM(${col}), 0) AS ${col}`).join(", ")}
         FROM usage_daily WHERE tenant_id = ? AND day BETWEEN ? AND ?`,
    ).bind(tenantId, from, to),
    jobTotals("key_id", keyId),
    jobTotals("tenant_id", tenantId),
  ]);
  const jobs = (row: Record<string, number> | undefined) => ({
    finished: Number(row?.finished ?? 0),
    succeeded: Number(row?.succeeded ?? 0),
    gpu_ms: Number(row?.gpu_ms ?? 0),
  });
  const keyDays = (days?.results ?? []).map((row) => ({ day: row.day, ...withTotal(row) }));
  const keyTotals = withTotal(
    Object.fromEntries(COLUMNS.map((col) => [col, keyDays.reduce((sum, d) => sum + d[col], 0)])) as Counts,
  );
  return c.json({
    object: "usage",
    from,
    to,
    key: { key_id: keyId, totals: keyTotals, days: keyDays },
    tenant: { tenant_id: tenantId, totals: withTotal(tenant?.results[0] ?? {}) },
    jobs: { key: jobs(keyJobs?.results[0]), tenant: jobs(tenantJobs?.results[0]) },
  });
});

export const usageDocs: RouteDoc[] = [
  ...usageStatsDocs,
  {
    method: "get",
    path: "/v1/usage",
    summary: "Usage of the calling key and its tenant",
    description:
      "Per UTC day for the key, totals for the key and its tenant: requests, LLM requests, prompt and " +
      "completion tokens (from the upstreams' usage), cache hits and the tokens they saved; jobs finished and " +
      "their GPU time. Any valid key may read its own usage. Counts reach D1 within about 10 s.",
    tag: "LLM",
    security: "apiKey",
    query: UsageQuery,
    responses: {
      200: { description: "Usage", schema: UsageReport },
      400: { description: "Bad from/to", schema: ErrorEnvelope },
      ...authedJsonErrors(null),
    },
  },
];
