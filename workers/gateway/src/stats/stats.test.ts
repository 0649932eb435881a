import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin, call, createKey, createTenant, expectError, json } from "../../test/helpers.ts";
import { StatsAggregator } from "./aggregator.ts";
import { flushIfDue, flushOnCron, flushStats, RETENTION_MS } from "./flush.ts";
import { bucketOf } from "./histogram.ts";

interface Figures {
  requests: number;
  p50_ms: number | null;
  p95_ms: number | null;
  error_rate: number;
  client_error_rate: number;
  status: Record<string, number>;
}
interface Report {
  object: string;
  window: string;
  category: string;
  categories: Array<Figures & { category: string }>;
  step_s: number;
  tenant_id: string | null;
  totals: Figures;
  routes: Array<Figures & { method: string; route: string; category: string; long_poll: boolean; expected: number }>;
  tenants?: Array<Figures & { tenant_id: string | null; caller: string }>;
  series: Array<{ t: string; requests: number; client_errors: number; errors: number; p95_ms: number | null }>;
}

const stats = async (query: string) => {
  const res = await admin(`/admin/v1/stats${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return json<Report>(res);
};

describe("request monitoring", () => {
  it("counts requests per route pattern, method and tenant, with latency percentiles and error rates", async () => {
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id);
    for (let i = 0; i < 3; i++) expect((await call("/v1/me", { token: key })).status).toBe(200);
    // Two different job ids: one route pattern, both 404.
    await expectError(await call("/v1/jobs/job_00000000000000000000000000", { token: key }), 404, "job_not_found");
    await expectError(await call("/v1/jobs/job_11111111111111111111111111", { token: key }), 404, "job_not_found");

    const report = await stats(`?window=1h&tenant=${tenant.id}`);
    expect(report).toMatchObject({ object: "request_stats", window: "1h", step_s: 60, tenant_id: tenant.id });
    const me = report.routes.find((r) => r.route === "/v1/me" && r.method === "GET");
    expect(me?.requests).toBe(3);
    expect(me?.status["2xx"]).toBe(3);
    expect(me?.p50_ms).not.toBeNull();
    expect(me?.p95_ms).toBeGreaterThanOrEqual(me?.p50_ms ?? 0);
    const job = report.routes.find((r) => r.route === "/v1/jobs/:id");
    expect(job).toMatchObject({ method: "GET", requests: 2, client_error_rate: 1, error_rate: 0 });
    expect(report.routes.some((r) => r.route.includes("job_0"))).toBe(false);
    expect(report.totals.requests).toBe(5);
    expect(report.tenants).toEqual([expect.objectContaining({ tenant_id: tenant.id, requests: 5 })]);
    expect(report.series).toHaveLength(60);
    expect(report.series.reduce((n, p) => n + p.requests, 0)).toBe(5);
    expect(report.series.reduce((n, p) => n + p.client_errors, 0)).toBe(2);

    const day = await stats(`?window=24h&tenant=${tenant.id}&route=${encodeURIComponent("/v1/jobs/:id")}`);
    expect(day.step_s).toBe(900);
    expect(day.series).toHaveLength(96);
    expect(day.routes.map((r) => r.route)).toEqual(["/v1/jobs/:id"]);
    expect(day.totals.requests).toBe(2);
  });

  it("labels requests no route matched as (unmatched), without a tenant", async () => {
    const path = `/v1/nowhere-${crypto.randomUUID()}`;
    await expectError(await call(path), 404, "not_found");
    const report = await stats("?tenant=-");
    expect(report.tenant_id).toBe("-");
    expect(report.routes.some((r) => r.route === "(unmatched)")).toBe(true);
    expect(report.routes.some((r) => r.route.startsWith("/v1/nowhere"))).toBe(false);
    expect(report.tenants?.every((t) => t.tenant_id === null)).toBe(true);
  });

  it("keeps the runner protocol apart from the API, its normal 409 not an error, and labels refused requests unauthenticated", async () => {
    const pool = `stats-runner-${crypto.randomUUID().slice(0, 8)}`;
    expect((await admin("/admin/v1/pools", { body: { name: pool } })).status).toBe(201);
    const { token } = await json<{ token: string }>(await admin("/admin/v1/runner-tokens", { body: { pool } }));
    const lease = (body: Record<string, unknown>) =>
      call("/runner/v1/lease", { token, body: { runner_id: "r-stats", version: "test", wait_s: 0, ...body } });
    // A long poll with no work (204), and the protocol's "send your capability report first" (409).
    expect((await lease({})).status).toBe(204);
    await expectError(await lease({ capabilities_digest: "a".repeat(64) }), 409, "capabilities_required");
    // Refused at authentication: a bad runner token and a request without an API key.
    await expectError(await call("/runner/v1/lease", { token: "ce_rt_nope", body: {} }), 401, "invalid_runner_token");
    await expectError(await call("/v1/me"), 401, "missing_api_key");

    const api = await stats("?tenant=-");
    expect(api.category).toBe("api");
    expect(api.routes.every((r) => r.category === "api")).toBe(true);
    expect(api.routes.some((r) => r.route.startsWith("/runner/"))).toBe(false);
    const unauth = api.tenants?.find((t) => t.caller === "unauthenticated");
    expect(unauth).toMatchObject({ tenant_id: null });
    expect(unauth?.status["4xx"]).toBeGreaterThanOrEqual(1);

    const runner = await stats("?category=runner&tenant=runner");
    expect(runner.tenant_id).toBe("runner");
    const row = runner.routes.find((r) => r.route === "/runner/v1/lease");
    expect(row).toMatchObject({ category: "runner", long_poll: true, expected: 1, client_error_rate: 0 });
    expect(row?.requests).toBeGreaterThanOrEqual(2);
    expect(row?.status["4xx"]).toBe(1);
    expect(runner.series.reduce((n, p) => n + p.client_errors, 0)).toBe(0);
    expect(runner.categories.find((c) => c.category === "runner")?.requests).toBeGreaterThanOrEqual(2);
    // The 401 of the bad runner token: a runner route, under the caller "unauthenticated".
    const refused = await stats("?category=runner&tenant=unauthenticated");
    expect(refused.routes.find((r) => r.route === "/runner/v1/lease")?.status["4xx"]).toBeGreaterThanOrEqual(1);
    expect(refused.tenants?.map((t) => t.caller)).toEqual(["unauthenticated"]);
  });

  it("files the key check's scope refusal under the key's tenant, not under a caller without one", async () => {
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id, { scopes: ["llm"] });
    await expectError(await call("/v1/jobs/job_00000000000000000000000000", { token: key }), 403, "insufficient_scope");
    const report = await stats(`?window=1h&tenant=${tenant.id}`);
    expect(report.routes.find((r) => r.route === "/v1/jobs/:id")?.status["4xx"]).toBe(1);
    expect(report.tenants).toEqual([expect.objectContaining({ tenant_id: tenant.id, caller: "tenant", requests: 1 })]);
  });

  it("shows a tenant its own figures only", async () => {
    const mine = await createTenant();
    const other = await createTenant();
    const { key } = await createKey(mine.id);
    const { key: otherKey } = await createKey(other.id);
    await call("/v1/me", { token: otherKey });
    await call("/v1/me", { token: key });
    const res = await call("/v1/usage/stats?window=24h", { token: key });
    expect(res.status).toBe(200);
    const report = await json<Report>(res);
    expect(report.tenant_id).toBe(mine.id);
    expect(report.tenants).toBeUndefined();
    expect(report.routes.find((r) => r.route === "/v1/me")?.requests).toBe(1);
    expect(JSON.stringify(report)).not.toContain(other.id);
    // A tenant cannot ask for another tenant's figures.
    const asked = await expectError(
      await call(`/v1/usage/stats?tenant=${other.id}`, { token: key }),
      400,
      "invalid_request",
    );
    expect(asked.error.param).toBe("tenant");
  });

  it("answers 400 naming the parameter for a bad window or an unknown parameter, 401 without the admin token", async () => {
    const bad = await expectError(await admin("/admin/v1/stats?window=7d"), 400, "invalid_request");
    expect(bad.error.param).toBe("window");
    expect(bad.error.message).toMatch(/1h|24h/);
    expect((await expectError(await admin("/admin/v1/stats?x=1"), 400, "invalid_request")).error.param).toBe("x");
    await expectError(await call("/admin/v1/stats"), 401, "missing_admin_token");
  });

  it("does not count the console or the liveness check", async () => {
    const before = await stats("?tenant=-&category=all");
    await call("/health");
    await call("/console");
    const after = await stats("?tenant=-&category=all");
    const routes = after.routes.map((r) => r.route);
    expect(routes.some((r) => r.startsWith("/console") || r === "/health")).toBe(false);
    // Only the first stats call itself was added.
    expect(after.totals.requests - before.totals.requests).toBe(1);
  });
});

describe("request stats flush", () => {
  it("reaches D1 without anyone reading the stats: the worker's cron writes what the isolate holds", async () => {
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id);
    expect((await call("/v1/me", { token: key })).status).toBe(200);
    // The gateway's scheduled handler (wrangler.toml [triggers] crons), as the runtime calls it.
    const worker = exports.default as unknown as { scheduled(o: { cron: string }): Promise<unknown> };
    await worker.scheduled({ cron: "* * * * *" });
    const row = await env.DB.prepare("SELECT SUM(requests) AS n FROM request_stats WHERE tenant_id = ?")
      .bind(tenant.id)
      .first<{ n: number | null }>();
    expect(row?.n).toBe(1);
  });

  it("flushes at once in the request's waitUntil when due (no timer), then leaves the next 10 s to the cron", async () => {
    const route = `/schedule-test/${crypto.randomUUID()}`;
    const agg = new StatsAggregator();
    const held: Array<Promise<unknown>> = [];
    const hold = (p: Promise<unknown>) => held.push(p);
    agg.record({ at: Date.now(), route, method: "GET", tenantId: "", status: 200, latencyMs: 2 });
    expect(flushIfDue(env.DB, agg, hold, "req_test")).toBe(true);
    expect(held).toHaveLength(1);
    expect(agg.size).toBe(0);
    // A second request while that flush is under way starts none.
    agg.record({ at: Date.now(), route, method: "GET", tenantId: "", status: 200, latencyMs: 2 });
    expect(flushIfDue(env.DB, agg, hold, "req_test")).toBe(false);
    await held[0];
    const count = async () =>
      (
        await env.DB.prepare("SELECT requests FROM request_stats WHERE route = ?")
          .bind(route)
          .first<{ requests: number }>()
      )?.requests;
    expect(await count()).toBe(1);
    // Within 10 s of the last flush a request adds to memory only: nothing is held in its waitUntil.
    expect(flushIfDue(env.DB, agg, hold, "req_test")).toBe(false);
    expect(held).toHaveLength(1);
    expect(agg.size).toBe(1);
    // The cron writes what the quiet isolate holds; its execution context ends with the D1 batch.
    const ctx = createExecutionContext();
    await flushOnCron(agg)(createScheduledController({ cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(agg.size).toBe(0);
    expect(await count()).toBe(2);
  });

  it("a request's flush does not hold its execution context for a timer; a flushed window shows in GET /admin/v1/stats", async () => {
    const { createApp } = await import("../app.ts");
    const agg = new StatsAggregator();
    const app = createApp({ stats: agg });
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id);
    const ask = async () => {
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request("https://gateway.test/v1/me", { headers: { authorization: `Bearer ${key}` } }),
        env,
        ctx,
      );
      expect(res.status).toBe(200);
      await waitOnExecutionContext(ctx);
    };
    await ask(); // the isolate's first flush is due at once: written by this request's waitUntil
    await ask(); // within 10 s: kept in memory
    expect(agg.size).toBe(1);
    const flushed = await stats(`?tenant=${tenant.id}`);
    expect(flushed.routes.find((r) => r.route === "/v1/me")?.requests).toBe(1);
    const ctx = createExecutionContext();
    await flushOnCron(agg)(createScheduledController(), env, ctx);
    await waitOnExecutionContext(ctx);
    const after = await stats(`?tenant=${tenant.id}`);
    expect(after.routes.find((r) => r.route === "/v1/me")?.requests).toBe(2);
  });

  it("adds counts and merges histograms from several isolates into one row, and prunes old rows", async () => {
    const route = `/flush-test/${crypto.randomUUID()}`;
    const now = Date.now();
    const a = new StatsAggregator();
    const b = new StatsAggregator();
    const sample = { at: now, route, method: "GET", tenantId: "ten_flush" };
    a.record({ ...sample, status: 200, latencyMs: 3 });
    a.record({ ...sample, status: 500, latencyMs: 40 });
    b.record({ ...sample, status: 200, latencyMs: 3 });
    b.record({ ...sample, status: 404, latencyMs: 900 });
    const old = Date.now() - RETENTION_MS - 3600_000;
    b.record({ ...sample, at: old, status: 200, latencyMs: 1 });
    await flushStats(env.DB, a, now, "req_test");
    await flushStats(env.DB, b, now, "req_test");
    expect(a.size).toBe(0);
    const rows = await env.DB.prepare("SELECT * FROM request_stats WHERE route = ?")
      .bind(route)
      .all<Record<string, number | string>>();
    // The old row was written and pruned in the same batch (the DELETE runs after the upserts).
    expect(rows.results).toHaveLength(1);
    const row = rows.results[0]!;
    expect(row).toMatchObject({ requests: 4, status_2xx: 2, status_4xx: 1, status_5xx: 1, latency_ms_sum: 946 });
    expect(JSON.parse(String(row.latency_hist))).toEqual({
      [bucketOf(3)]: 2,
      [bucketOf(40)]: 1,
      [bucketOf(900)]: 1,
    });
  });

  it("keeps the counts for the next flush when the write fails", async () => {
    const agg = new StatsAggregator();
    agg.record({ at: Date.now(), route: "/x", method: "GET", tenantId: "", status: 200, latencyMs: 1 });
    const broken = { batch: () => Promise.reject(new Error("D1 down")), prepare: env.DB.prepare.bind(env.DB) };
    await flushStats(broken as unknown as D1Database, agg, Date.now(), "req_test");
    expect(agg.size).toBe(1);
  });
});
