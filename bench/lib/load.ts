/** A small closed-loop HTTP load generator over keep-alive sockets (node:http), with latency stats. */
import http from "node:http";

export interface Target {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface Stats {
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(
  latencies: number[],
  elapsedMs: number,
  statuses: Record<string, number>,
  errors: number,
): Stats {
  const sorted = [...latencies].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    requests: sorted.length,
    errors,
    statuses,
    rps: (sorted.length / elapsedMs) * 1000,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    mean: sum / sorted.length,
  };
}

export function request(agent: http.Agent, target: Target): Promise<{ status: number; ms: number; body: string }> {
  const u = new URL(target.url);
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: target.method ?? "GET",
        headers: target.headers,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - start) / 1e6, body }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (target.body) req.end(target.body);
    else req.end();
  });
}

/** A fixed target, or one made per request number (e.g. a fresh body each time for true cache misses). */
export type TargetSource = Target | ((i: number) => Target);

/** Runs `requests` requests at `concurrency` in flight; request numbers start at `offset`. */
export async function runLoad(
  source: TargetSource,
  options: { concurrency: number; requests: number; offset?: number },
): Promise<{ latencies: number[]; statuses: Record<string, number>; errors: number; elapsedMs: number }> {
  const make = typeof source === "function" ? source : () => source;
  const offset = options.offset ?? 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let issued = 0;
  const start = process.hrtime.bigint();
  async function worker(): Promise<void> {
    while (issued < options.requests) {
      const i = offset + issued++;
      try {
        const r = await request(agent, make(i));
        latencies.push(r.ms);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      } catch {
        errors++;
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  agent.destroy();
  return { latencies, statuses, errors, elapsedMs };
}

/**
 * Measures several targets interleaved: `rounds` rounds, each running every target once for
 * `perRound` requests, so drift (thermal, GC, other load) hits all of them alike.
 */
export async function interleaved(
  targets: Record<string, TargetSource>,
  options: { concurrency: number; perRound: number; rounds: number; warmup?: number },
): Promise<Record<string, Stats>> {
  const acc: Record<
    string,
    { latencies: number[]; statuses: Record<string, number>; errors: number; elapsedMs: number }
  > = {};
  // Request numbers keep growing across runs, so per-request targets never repeat a body.
  let offset = 0;
  const warmup = options.warmup ?? 200;
  for (const [name, t] of Object.entries(targets)) {
    await runLoad(t, { concurrency: options.concurrency, requests: warmup, offset });
    offset += warmup;
    acc[name] = { latencies: [], statuses: {}, errors: 0, elapsedMs: 0 };
  }
  for (let round = 0; round < options.rounds; round++) {
    for (const [name, t] of Object.entries(targets)) {
      const r = await runLoad(t, { concurrency: options.concurrency, requests: options.perRound, offset });
      offset += options.perRound;
      const a = acc[name]!;
      a.latencies.push(...r.latencies);
      a.errors += r.errors;
      a.elapsedMs += r.elapsedMs;
      for (const [s, n] of Object.entries(r.statuses)) a.statuses[s] = (a.statuses[s] ?? 0) + n;
    }
  }
  return Object.fromEntries(
    Object.entries(acc).map(([k, a]) => [k, summarize(a.latencies, a.elapsedMs, a.statuses, a.errors)]),
  );
}

export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}
