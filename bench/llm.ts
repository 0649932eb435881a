/**
 * Issue 4 benchmark: the LLM proxy on workerd (programmatic Miniflare, no wrangler dev proxy), interleaved
 * in one run with the direct upstream (a Node test double) and a bare pass-through worker on the same
 * runtime (the floor). Measures:
 *   - proxy overhead on a request that goes upstream, at concurrency 1 and 16 (x-cache BYPASS: a sampled
 *     request, so no cache work; and a true MISS: temperature 0 with a fresh body per request, so the key
 *     is hashed, KV read, the answer stored);
 *   - a stream's time to first byte, through the floor vs through the gateway;
 *   - cache hits with an upstream that takes 50 ms: p50 and req/s.
 * Run alone: `node bench/llm.ts [--quick]`.
 */
import http from "node:http";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { ROOT } from "../test/harness/build.ts";
import { type StackOptions, startStack } from "../test/harness/stack.ts";
import { startUpstreamDouble } from "../test/llm/upstream-double.ts";
import { startBenchStack } from "./lib/bench-stack.ts";
import { fmt, interleaved, percentile, request, type Stats, type Target } from "./lib/load.ts";

export interface LlmBenchResult {
  cpus: number;
  /** Sequential requests (concurrency 1): auth's call plus the batched usage calls. */
  do_calls_per_request: number;
  d1_reads_per_request: number;
  /** BYPASS: proxy overhead without cache work. */
  bypass: Record<string, { direct: Stats; floor: Stats; gateway: Stats; added_p50_ms: number; added_p99_ms: number }>;
  /** True misses: unique deterministic bodies (hash + KV read + upstream + KV write via waitUntil). */
  miss: Record<string, { floor: Stats; gateway: Stats; added_p50_ms: number; added_p99_ms: number }>;
  ttfb: {
    direct: { p50: number; p99: number };
    floor: { p50: number; p99: number };
    gateway: { p50: number; p99: number };
    added_p50_ms: number;
  };
  /** Cache hits, upstream taking 50 ms. */
  hit: Record<string, Stats>;
}

const TARGETS = {
  missAddedP50: 0.5,
  missAddedP99: 3,
  missRps16: 1000,
  ttfbAdded: 1,
  hitP50: 3,
  hitRps: 1500,
};
/** Portkey's open-source gateway on the same 2-core machine (issue 4). */
const PORTKEY = { addedP50: 2.3, rps: 515, ttfbAdded: 28, hitRps: 820 };

function chatBody(model: string, content: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model, max_tokens: 64, messages: [{ role: "user", content }], ...extra });
}

/** Time from sending a streaming request to the first body byte. */
function firstByte(agent: http.Agent, target: Target): Promise<number> {
  const u = new URL(target.url);
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: u.hostname, port: u.port, path: u.pathname, method: "POST", headers: target.headers },
      (res) => {
        let at = -1;
        res.on("data", () => {
          if (at < 0) at = Number(process.hrtime.bigint() - start) / 1e6;
        });
        res.on("end", () => (res.statusCode === 200 ? resolve(at) : reject(new Error(`status ${res.statusCode}`))));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(target.body);
  });
}

async function ttfbInterleaved(
  targets: Record<string, Target>,
  perRound: number,
  rounds: number,
): Promise<Record<string, { p50: number; p99: number }>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const acc: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(targets)) {
    for (let i = 0; i < 50; i++) await firstByte(agent, t);
    acc[name] = [];
  }
  for (let r = 0; r < rounds; r++) {
    for (const [name, t] of Object.entries(targets)) {
      for (let i = 0; i < perRound; i++) acc[name]!.push(await firstByte(agent, t));
    }
  }
  agent.destroy();
  return Object.fromEntries(
    Object.entries(acc).map(([k, v]) => {
      const sorted = v.sort((a, b) => a - b);
      return [k, { p50: percentile(sorted, 50), p99: percentile(sorted, 99) }];
    }),
  );
}

async function llmKey(stack: { admin<T>(path: string, body?: unknown): Promise<T> }): Promise<string> {
  const tenant = await stack.admin<{ id: string }>("/admin/v1/tenants", { name: "bench" });
  const { key } = await stack.admin<{ key: string }>("/admin/v1/keys", {
    tenant_id: tenant.id,
    scopes: ["llm"],
    requests_per_minute: 1_000_000,
  });
  return key;
}

function chatTarget(url: string, key: string, body: string): Target {
  return {
    url: `${url}/v1/chat/completions`,
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body,
  };
}

/**
 * Operation counts on the instrumented gateway (its counting wrappers cost time, so the timings below run
 * on the plain build): Durable Object calls and D1 reads per sequential request.
 */
async function operationCounts(vars: Record<string, string>): Promise<{ doCalls: number; d1Reads: number }> {
  const stack = await startBenchStack({ vars });
  try {
    const target = chatTarget(
      stack.url,
      await llmKey(stack),
      chatBody("bench-fast", "Count me.", { temperature: 0.7 }),
    );
    const agent = new http.Agent({ keepAlive: true });
    await request(agent, target);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the warm-up's usage batch (100 ms window)
    await stack.counters();
    const n = 200;
    for (let i = 0; i < n; i++) {
      const r = await request(agent, target);
      if (r.status !== 200) throw new Error(`gateway answered ${r.status}: ${r.body.slice(0, 300)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the last usage batch go out
    const { gateway } = await stack.counters();
    agent.destroy();
    return { doCalls: gateway.do_calls / n, d1Reads: gateway.d1_reads / n };
  } finally {
    await stack.close();
  }
}

export async function benchLlm(quick = false): Promise<LlmBenchResult> {
  const fast = await startUpstreamDouble({ name: "fast", record: false });
  const slow = await startUpstreamDouble({ name: "slow", record: false, defaults: { delayMs: 50 } });
  const vars = {
    DEFAULT_REQUESTS_PER_MINUTE: "100000000",
    LLM_UPSTREAMS: JSON.stringify([
      { name: "fast", base_url: fast.url, models: ["bench-fast"] },
      { name: "slow", base_url: slow.url, models: ["bench-slow"] },
    ]),
  };
  try {
    return await measure(quick, vars, await operationCounts(vars), fast.url);
  } finally {
    await Promise.all([fast.close(), slow.close()]);
  }
}

async function measure(
  quick: boolean,
  vars: Record<string, string>,
  counts: { doCalls: number; d1Reads: number },
  upstreamUrl: string,
): Promise<LlmBenchResult> {
  const options: StackOptions = {
    vars,
    extraWorkers: [
      {
        name: "floor",
        modules: true,
        scriptPath: join(ROOT, "bench/worker/floor-worker.js"),
        compatibilityDate: "2026-07-01",
        routes: ["floor.bench/*"],
        bindings: { UPSTREAM: upstreamUrl.replace(/\/v1$/, "") },
      },
    ],
  };
  const stack = await startStack(options);
  try {
    const key = await llmKey(stack);
    const json = { "content-type": "application/json" };
    const auth = { ...json, authorization: `Bearer ${key}` };
    const gatewayUrl = `${stack.url}/v1/chat/completions`;
    const sampled = chatBody("bench-fast", "Write a prompt for a picture of a cat.", { temperature: 0.7 });
    const direct: Target = { url: `${upstreamUrl}/chat/completions`, method: "POST", headers: json, body: sampled };
    const floor: Target = { url: gatewayUrl, method: "POST", headers: { ...json, host: "floor.bench" }, body: sampled };
    const gateway: Target = { url: gatewayUrl, method: "POST", headers: auth, body: sampled };

    const agent = new http.Agent({ keepAlive: true });
    for (const [name, t, want] of [
      ["floor", floor, null],
      ["gateway", gateway, "BYPASS"],
    ] as const) {
      const probe = await request(agent, t);
      if (probe.status !== 200 || !probe.body.includes("chat.completion")) {
        throw new Error(`${name} answered ${probe.status}: ${probe.body.slice(0, 300)}`);
      }
      if (want) {
        const res = await fetch(t.url, { method: "POST", headers: t.headers, body: t.body });
        if (res.headers.get("x-cache") !== want) throw new Error(`${name}: x-cache ${res.headers.get("x-cache")}`);
        await res.text();
      }
    }

    const result: LlmBenchResult = {
      cpus: availableParallelism(),
      do_calls_per_request: counts.doCalls,
      d1_reads_per_request: counts.d1Reads,
      bypass: {},
      miss: {},
      ttfb: {} as never,
      hit: {},
    };
    const rounds = quick ? 2 : 5;
    for (const concurrency of [1, 16]) {
      const perRound = quick ? 200 : concurrency === 1 ? 800 : 2000;
      const stats = await interleaved({ direct, floor, gateway }, { concurrency, perRound, rounds, warmup: 300 });
      result.bypass[String(concurrency)] = {
        direct: stats.direct!,
        floor: stats.floor!,
        gateway: stats.gateway!,
        added_p50_ms: stats.gateway!.p50 - stats.floor!.p50,
        added_p99_ms: stats.gateway!.p99 - stats.floor!.p99,
      };
      const run = `${Date.now()}`;
      const fresh = (i: number) => chatBody("bench-fast", `Describe scene ${run}-${i}.`, { temperature: 0 });
      const varying = await interleaved(
        {
          floor: (i) => ({ ...floor, body: fresh(i) }),
          gateway: (i) => ({ ...gateway, body: fresh(i) }),
        },
        { concurrency, perRound, rounds, warmup: 300 },
      );
      result.miss[String(concurrency)] = {
        floor: varying.floor!,
        gateway: varying.gateway!,
        added_p50_ms: varying.gateway!.p50 - varying.floor!.p50,
        added_p99_ms: varying.gateway!.p99 - varying.floor!.p99,
      };
    }

    const streamBody = chatBody("bench-fast", "Stream a short prompt.", { stream: true, temperature: 0.7 });
    const ttfb = await ttfbInterleaved(
      {
        direct: { ...direct, body: streamBody },
        floor: { ...floor, body: streamBody },
        gateway: { ...gateway, body: streamBody },
      },
      quick ? 100 : 300,
      rounds,
    );
    result.ttfb = {
      direct: ttfb.direct!,
      floor: ttfb.floor!,
      gateway: ttfb.gateway!,
      added_p50_ms: ttfb.gateway!.p50 - ttfb.floor!.p50,
    };

    const hitBody = chatBody("bench-slow", "A cached prompt for a picture of a lighthouse.", { temperature: 0 });
    const hit: Target = { url: gatewayUrl, method: "POST", headers: auth, body: hitBody };
    await request(agent, hit); // the miss (50 ms) that fills the cache
    const check = await fetch(hit.url, { method: "POST", headers: hit.headers, body: hit.body });
    if (check.headers.get("x-cache") !== "HIT")
      throw new Error(`expected a cache hit, got ${check.headers.get("x-cache")}`);
    await check.text();
    agent.destroy();
    for (const concurrency of [1, 16]) {
      const perRound = quick ? 300 : concurrency === 1 ? 1000 : 4000;
      const stats = await interleaved({ hit }, { concurrency, perRound, rounds, warmup: 300 });
      result.hit[String(concurrency)] = stats.hit!;
    }
    return result;
  } finally {
    await stack.close();
  }
}

function verdict(ok: boolean): string {
  return ok ? "met" : "**not met**";
}

export function printLlm(r: LlmBenchResult): string[] {
  const lines = [
    "## LLM proxy (POST /v1/chat/completions) vs direct upstream and bare pass-through worker (floor)",
    "",
    `Machine: ${r.cpus} CPU cores shared by the Node load generator, the Node upstream double and workerd, so ` +
      "absolute figures are lower than on separate hosts; gateway and floor are measured interleaved under the " +
      "same contention. The gateway path includes auth + rate limit (one Durable Object call), validation, " +
      "routing, and a usage record (second DO call, through waitUntil).",
    "",
    `Durable Object calls per request at concurrency 1: ${fmt(r.do_calls_per_request)} (auth, plus usage ` +
      `batched per key per 100 ms through waitUntil; higher concurrency batches more); D1 reads: ${fmt(r.d1_reads_per_request)}.`,
    "",
    "### Requests that go upstream",
    "",
    "BYPASS = sampled request (temperature 0.7): no cache work. MISS = temperature 0 with a fresh body per " +
      "request: canonical JSON + SHA-256 key, KV read (miss), upstream, KV write through waitUntil.",
    "",
    "| kind | concurrency | direct p50 | floor p50 | floor p99 | gateway p50 | gateway p99 | added p50 | added p99 | floor req/s | gateway req/s |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const [c, v] of Object.entries(r.bypass)) {
    lines.push(
      `| BYPASS | ${c} | ${fmt(v.direct.p50)} ms | ${fmt(v.floor.p50)} ms | ${fmt(v.floor.p99)} ms | ${fmt(v.gateway.p50)} ms | ${fmt(v.gateway.p99)} ms | ${fmt(v.added_p50_ms)} ms | ${fmt(v.added_p99_ms)} ms | ${fmt(v.floor.rps, 0)} | ${fmt(v.gateway.rps, 0)} |`,
    );
  }
  for (const [c, v] of Object.entries(r.miss)) {
    lines.push(
      `| MISS | ${c} | - | ${fmt(v.floor.p50)} ms | ${fmt(v.floor.p99)} ms | ${fmt(v.gateway.p50)} ms | ${fmt(v.gateway.p99)} ms | ${fmt(v.added_p50_ms)} ms | ${fmt(v.added_p99_ms)} ms | ${fmt(v.floor.rps, 0)} | ${fmt(v.gateway.rps, 0)} |`,
    );
  }
  const b1 = r.bypass["1"]!;
  const b16 = r.bypass["16"]!;
  const m1 = r.miss["1"]!;
  const m16 = r.miss["16"]!;
  const h1 = r.hit["1"]!;
  const h16 = r.hit["16"]!;
  const bestHitRps = Math.max(h1.rps, h16.rps);
  lines.push(
    "",
    "### Stream time to first byte (concurrency 1)",
    "",
    "| path | p50 | p99 |",
    "|---|---|---|",
    `| direct | ${fmt(r.ttfb.direct.p50)} ms | ${fmt(r.ttfb.direct.p99)} ms |`,
    `| floor | ${fmt(r.ttfb.floor.p50)} ms | ${fmt(r.ttfb.floor.p99)} ms |`,
    `| gateway | ${fmt(r.ttfb.gateway.p50)} ms | ${fmt(r.ttfb.gateway.p99)} ms |`,
    "",
    "### Cache hits (upstream takes 50 ms)",
    "",
    "| concurrency | p50 | p90 | p99 | req/s |",
    "|---|---|---|---|---|",
    `| 1 | ${fmt(h1.p50)} ms | ${fmt(h1.p90)} ms | ${fmt(h1.p99)} ms | ${fmt(h1.rps, 0)} |`,
    `| 16 | ${fmt(h16.p50)} ms | ${fmt(h16.p90)} ms | ${fmt(h16.p99)} ms | ${fmt(h16.rps, 0)} |`,
    "",
    "### Targets",
    "",
    "| target | measured | ratio (target / measured, or measured / target for rates) | verdict | Portkey here |",
    "|---|---|---|---|---|",
    `| miss adds <= ${TARGETS.missAddedP50} ms p50 over the floor (c=1) | BYPASS ${fmt(b1.added_p50_ms)} ms, MISS ${fmt(m1.added_p50_ms)} ms | ${fmt(TARGETS.missAddedP50 / Math.max(b1.added_p50_ms, 0.001))}x | ${verdict(b1.added_p50_ms <= TARGETS.missAddedP50)} (BYPASS), ${verdict(m1.added_p50_ms <= TARGETS.missAddedP50)} (MISS) | +${PORTKEY.addedP50} ms |`,
    `| miss adds <= ${TARGETS.missAddedP99} ms p99 over the floor (c=1) | BYPASS ${fmt(b1.added_p99_ms)} ms, MISS ${fmt(m1.added_p99_ms)} ms | ${fmt(TARGETS.missAddedP99 / Math.max(b1.added_p99_ms, 0.001))}x | ${verdict(b1.added_p99_ms <= TARGETS.missAddedP99)} (BYPASS), ${verdict(m1.added_p99_ms <= TARGETS.missAddedP99)} (MISS) | |`,
    `| >= ${TARGETS.missRps16} req/s at concurrency 16 (miss) | BYPASS ${fmt(b16.gateway.rps, 0)}, MISS ${fmt(m16.gateway.rps, 0)} (floor ${fmt(b16.floor.rps, 0)}) | ${fmt(b16.gateway.rps / TARGETS.missRps16)}x | ${verdict(b16.gateway.rps >= TARGETS.missRps16)} (BYPASS), ${verdict(m16.gateway.rps >= TARGETS.missRps16)} (MISS) | ${PORTKEY.rps} req/s |`,
    `| stream first byte <= ${TARGETS.ttfbAdded} ms after the floor's | ${fmt(r.ttfb.added_p50_ms)} ms (p50) | ${fmt(TARGETS.ttfbAdded / Math.max(r.ttfb.added_p50_ms, 0.001))}x | ${verdict(r.ttfb.added_p50_ms <= TARGETS.ttfbAdded)} | +${PORTKEY.ttfbAdded} ms |`,
    `| cache hit <= ${TARGETS.hitP50} ms p50 | ${fmt(h1.p50)} ms (c=1), ${fmt(h16.p50)} ms (c=16) | ${fmt(TARGETS.hitP50 / h1.p50)}x | ${verdict(h1.p50 <= TARGETS.hitP50)} | |`,
    `| cache hits >= ${TARGETS.hitRps} req/s | ${fmt(bestHitRps, 0)} req/s | ${fmt(bestHitRps / TARGETS.hitRps)}x | ${verdict(bestHitRps >= TARGETS.hitRps)} | ${PORTKEY.hitRps} req/s |`,
    "",
    `Gateway vs Portkey: ${fmt(b16.gateway.rps / PORTKEY.rps)}x the miss throughput, ${fmt(bestHitRps / PORTKEY.hitRps)}x the cache-hit throughput.`,
  );
  return lines;
}

if (import.meta.main) {
  const r = await benchLlm(process.argv.includes("--quick"));
  console.log(printLlm(r).join("\n"));
}
