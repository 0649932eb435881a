/**
 * Issue 2 benchmark: an authenticated request (auth + exact rate limit: one Durable Object call) vs a bare
 * worker on the same runtime (the floor), interleaved, at concurrency 1 and 32, on workerd through
 * programmatic Miniflare (no wrangler dev proxy). Also counts Durable Object calls and D1 reads per request.
 */

import http from "node:http";
import { startBenchStack } from "./lib/bench-stack.ts";
import { fmt, interleaved, request } from "./lib/load.ts";

export interface AuthBenchResult {
  concurrency: Record<string, { floor: unknown; gateway: unknown; added_p50_ms: number; added_p99_ms: number }>;
  budgets: { do_calls_per_request: number; d1_reads_per_request: number };
}

export async function benchAuth(quick = false): Promise<AuthBenchResult> {
  const stack = await startBenchStack({ vars: { DEFAULT_REQUESTS_PER_MINUTE: "1000000" } });
  try {
    const tenant = await stack.admin<{ id: string }>("/admin/v1/tenants", { name: "bench" });
    const { key } = await stack.admin<{ key: string }>("/admin/v1/keys", {
      tenant_id: tenant.id,
      scopes: ["llm", "jobs"],
      requests_per_minute: 1_000_000,
    });
    const gatewayTarget = { url: `${stack.url}/v1/me`, headers: { authorization: `Bearer ${key}` } };
    const floorTarget = { url: `${stack.url}/`, headers: { host: "floor.bench" } };
    const agent = new http.Agent({ keepAlive: true });
    const probe = await request(agent, floorTarget);
    if (!probe.body.includes("ok")) throw new Error(`floor worker not reached: ${probe.status} ${probe.body}`);

    // Operation counts: warm up, reset, then count over N requests.
    await request(agent, gatewayTarget);
    await request(agent, { url: `${stack.url}/__bench/counters` });
    const n = 200;
    for (let i = 0; i < n; i++) {
      const r = await request(agent, gatewayTarget);
      if (r.status !== 200) throw new Error(`gateway answered ${r.status}: ${r.body}`);
    }
    const counts = JSON.parse((await request(agent, { url: `${stack.url}/__bench/counters` })).body) as {
      do_calls: number;
      d1_reads: number;
    };
    agent.destroy();

    const result: AuthBenchResult = {
      concurrency: {},
      budgets: { do_calls_per_request: counts.do_calls / n, d1_reads_per_request: counts.d1_reads / n },
    };
    for (const concurrency of [1, 32]) {
      const stats = await interleaved(
        { floor: floorTarget, gateway: gatewayTarget },
        { concurrency, perRound: quick ? 200 : concurrency === 1 ? 1000 : 3000, rounds: quick ? 2 : 5, warmup: 300 },
      );
      result.concurrency[String(concurrency)] = {
        floor: stats.floor,
        gateway: stats.gateway,
        added_p50_ms: stats.gateway!.p50 - stats.floor!.p50,
        added_p99_ms: stats.gateway!.p99 - stats.floor!.p99,
      };
    }
    return result;
  } finally {
    await stack.close();
  }
}

export function printAuth(r: AuthBenchResult): string[] {
  const lines = [
    "## Auth + rate limit (GET /v1/me) vs bare worker (floor)",
    "",
    "| concurrency | floor p50 | floor p99 | gateway p50 | gateway p99 | added p50 | added p99 | gateway req/s |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const [c, v] of Object.entries(r.concurrency)) {
    const f = v.floor as { p50: number; p99: number };
    const g = v.gateway as { p50: number; p99: number; rps: number };
    lines.push(
      `| ${c} | ${fmt(f.p50)} ms | ${fmt(f.p99)} ms | ${fmt(g.p50)} ms | ${fmt(g.p99)} ms | ${fmt(v.added_p50_ms)} ms | ${fmt(v.added_p99_ms)} ms | ${fmt(g.rps, 0)} |`,
    );
  }
  lines.push(
    "",
    `Per authenticated request: ${fmt(r.budgets.do_calls_per_request)} Durable Object calls (budget 1), ${fmt(r.budgets.d1_reads_per_request)} D1 reads (budget 0 once warm). Target: added p50 <= 0.5 ms.`,
  );
  return lines;
}

if (import.meta.main) {
  const r = await benchAuth(process.argv.includes("--quick"));
  console.log(printAuth(r).join("\n"));
}
