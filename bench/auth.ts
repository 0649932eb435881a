/**
 * Issue 2 benchmark: an authenticated request (auth + exact rate limit: one Durable Object call) vs a bare
 * worker on the same runtime (the floor), interleaved, at concurrency 1 and 32, on workerd through
 * programmatic Miniflare (no wrangler dev proxy). Also counts Durable Object calls and D1 reads per request.
 *
 * The cost of persisting the rate-limit window (issue 11 item 4): a second stack whose key objects store the
 * window on every request (`BENCH_WINDOW_STEP=1`) is measured interleaved with the others; the default
 * stores it once per reservation step (keys/rate-window.ts), so the bench key (1,000,000/min) almost never.
 */

import http from "node:http";
import { startBenchStack } from "./lib/bench-stack.ts";
import { fmt, interleaved, request } from "./lib/load.ts";

export interface AuthBenchResult {
  concurrency: Record<
    string,
    {
      floor: unknown;
      gateway: unknown;
      gateway_window_stored_every_request: unknown;
      added_p50_ms: number;
      added_p99_ms: number;
      /** p50 with the window stored on every request minus p50 of the default (almost never for this key). */
      window_store_p50_ms: number;
    }
  >;
  budgets: { do_calls_per_request: number; d1_reads_per_request: number };
  /** Rate-window storage writes per allowed request. */
  window_writes_per_request: { bench_key: number; default_limit_key: number; store_every_request: number };
}

interface GatewayCounters {
  do_calls: number;
  d1_reads: number;
  window_writes: number;
}

async function countOver(
  agent: http.Agent,
  baseUrl: string,
  target: { url: string; headers: Record<string, string> },
  n: number,
) {
  await request(agent, { url: `${baseUrl}/__bench/counters` });
  for (let i = 0; i < n; i++) {
    const r = await request(agent, target);
    if (r.status !== 200) throw new Error(`gateway answered ${r.status}: ${r.body}`);
  }
  return JSON.parse((await request(agent, { url: `${baseUrl}/__bench/counters` })).body) as GatewayCounters;
}

export async function benchAuth(quick = false): Promise<AuthBenchResult> {
  const stack = await startBenchStack({ vars: { DEFAULT_REQUESTS_PER_MINUTE: "1000000" } });
  const everyStack = await startBenchStack({
    vars: { DEFAULT_REQUESTS_PER_MINUTE: "1000000", BENCH_WINDOW_STEP: "1" },
  });
  try {
    const benchKey = async (s: typeof stack, rpm: number) => {
      const tenant = await s.admin<{ id: string }>("/admin/v1/tenants", { name: `bench-${rpm}` });
      return (
        await s.admin<{ key: string }>("/admin/v1/keys", {
          tenant_id: tenant.id,
          scopes: ["llm", "jobs"],
          requests_per_minute: rpm,
        })
      ).key;
    };
    const meTarget = (s: typeof stack, key: string) => ({
      url: `${s.url}/v1/me`,
      headers: { authorization: `Bearer ${key}` },
    });
    const gatewayTarget = meTarget(stack, await benchKey(stack, 1_000_000));
    const everyTarget = meTarget(everyStack, await benchKey(everyStack, 1_000_000));
    const defaultLimitTarget = meTarget(stack, await benchKey(stack, 600));
    const floorTarget = { url: `${stack.url}/`, headers: { host: "floor.bench" } };
    const agent = new http.Agent({ keepAlive: true });
    const probe = await request(agent, floorTarget);
    if (!probe.body.includes("ok")) throw new Error(`floor worker not reached: ${probe.status} ${probe.body}`);

    // Operation counts: warm up, then count over N requests (the first request of a window stores it).
    const n = 200;
    await request(agent, gatewayTarget);
    const counts = await countOver(agent, stack.url, gatewayTarget, n);
    const defaultCounts = await countOver(agent, stack.url, defaultLimitTarget, n);
    const everyCounts = await countOver(agent, everyStack.url, everyTarget, n);
    agent.destroy();

    const result: AuthBenchResult = {
      concurrency: {},
      budgets: { do_calls_per_request: counts.do_calls / n, d1_reads_per_request: counts.d1_reads / n },
      window_writes_per_request: {
        bench_key: counts.window_writes / n,
        default_limit_key: defaultCounts.window_writes / n,
        store_every_request: everyCounts.window_writes / n,
      },
    };
    for (const concurrency of [1, 32]) {
      const stats = await interleaved(
        { floor: floorTarget, gateway: gatewayTarget, every: everyTarget },
        { concurrency, perRound: quick ? 200 : concurrency === 1 ? 1000 : 3000, rounds: quick ? 2 : 5, warmup: 300 },
      );
      result.concurrency[String(concurrency)] = {
        floor: stats.floor,
        gateway: stats.gateway,
        gateway_window_stored_every_request: stats.every,
        added_p50_ms: stats.gateway!.p50 - stats.floor!.p50,
        added_p99_ms: stats.gateway!.p99 - stats.floor!.p99,
        window_store_p50_ms: stats.every!.p50 - stats.gateway!.p50,
      };
    }
    return result;
  } finally {
    await Promise.all([stack.close(), everyStack.close()]);
  }
}

export function printAuth(r: AuthBenchResult): string[] {
  const lines = [
    "## Auth + rate limit (GET /v1/me) vs bare worker (floor)",
    "",
    "| concurrency | floor p50 | floor p99 | gateway p50 | gateway p99 | added p50 | added p99 | gateway req/s | window stored every request: p50 / p99 (+p50) |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const [c, v] of Object.entries(r.concurrency)) {
    const f = v.floor as { p50: number; p99: number };
    const g = v.gateway as { p50: number; p99: number; rps: number };
    const e = v.gateway_window_stored_every_request as { p50: number; p99: number };
    lines.push(
      `| ${c} | ${fmt(f.p50)} ms | ${fmt(f.p99)} ms | ${fmt(g.p50)} ms | ${fmt(g.p99)} ms | ${fmt(v.added_p50_ms)} ms | ${fmt(v.added_p99_ms)} ms | ${fmt(g.rps, 0)} | ${fmt(e.p50)} / ${fmt(e.p99)} ms (${fmt(v.window_store_p50_ms)} ms) |`,
    );
  }
  const w = r.window_writes_per_request;
  lines.push(
    "",
    `Per authenticated request: ${fmt(r.budgets.do_calls_per_request)} Durable Object calls (budget 1), ${fmt(r.budgets.d1_reads_per_request)} D1 reads (budget 0 once warm). Target: added p50 <= 0.5 ms.`,
    `Rate-window storage writes per request (so the window survives eviction): ${fmt(w.bench_key, 4)} for the bench key (1,000,000/min), ${fmt(w.default_limit_key)} for a 600/min key (one per 6 requests), ${fmt(w.store_every_request)} in the store-every-request column. State on tmpfs: production storage adds its own write latency, which the output gate puts on the answer.`,
  );
  return lines;
}

if (import.meta.main) {
  const r = await benchAuth(process.argv.includes("--quick"));
  console.log(printAuth(r).join("\n"));
}
