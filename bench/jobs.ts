/**
 * Issue 5 benchmark on workerd (programmatic Miniflare, no wrangler dev proxy):
 *  - submit -> lease received by an already-waiting runner, p50/p99 (targets p50 <= 20 ms, p99 <= 100 ms)
 *  - sustained jobs/s through submit -> lease -> success with instant scripted runners (target >= 200/s),
 *    with the count check (zero lost, zero duplicated outcomes)
 *  - Durable Object calls and D1 writes per job (budgets <= 3 and <= 2)
 */

import { api, ensurePool, runnerToken, ScriptedRunner, TRIVIAL_WORKFLOW, tenantWithKey } from "../test/harness/api.ts";
import { type BenchStack, startBenchStack } from "./lib/bench-stack.ts";
import { workerdCpuMs } from "./lib/child-cpu.ts";
import { driveJobs } from "./lib/drive-jobs.ts";
import { percentile } from "./lib/load.ts";

export interface JobsBenchResult {
  submit_to_lease_ms: { p50: number; p99: number; n: number };
  throughput: ThroughputResult;
  /** The throughput run on a 1-shard and on a 2-shard pool (docs/capabilities.md §7). */
  shards: { one: ThroughputResult; two: ThroughputResult };
  per_job: {
    do_calls: number;
    do_calls_excluding_auth: number;
    d1_writes: number;
    d1_reads: number;
    breakdown: Record<string, number>;
    /** The same path for a tenant with `max_queued_jobs` set (the queued-job limit's cost). */
    limited_tenant: { do_calls: number; d1_writes: number; breakdown: Record<string, number> };
  };
}

/** DO calls and D1 writes per job from one counter snapshot (gateway + consumer). */
function perJobCounts(counts: Awaited<ReturnType<BenchStack["counters"]>>, jobs: number) {
  const breakdown: Record<string, number> = {};
  for (const side of [counts.gateway, counts.consumer])
    for (const [k, v] of Object.entries(side.by_method)) breakdown[k] = (breakdown[k] ?? 0) + v / jobs;
  return {
    do_calls: (counts.gateway.do_calls + counts.consumer.do_calls) / jobs,
    d1_writes: (counts.gateway.d1_writes + counts.consumer.d1_writes) / jobs,
    d1_reads: (counts.gateway.d1_reads + counts.consumer.d1_reads) / jobs,
    breakdown,
  };
}

/** Runs `n` jobs one at a time (a runner already waiting, success with no outputs) and counts what they cost. */
async function countedJobs(stack: BenchStack, runner: ScriptedRunner, key: string, n: number) {
  const call = api(stack, key);
  await sleep(300);
  await stack.counters();
  for (let i = 0; i < n; i++) {
    const pending = runner.lease(20);
    await sleep(10);
    await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } });
    const g = await pending;
    await runner.event(g!.lease.id, { type: "succeeded", outputs: [] });
  }
  await sleep(500); // outbox deliveries (index row, pool release) run just after the responses
  return perJobCounts(await stack.counters(), n);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ThroughputResult {
  pool: string;
  jobs: number;
  seconds: number;
  jobs_per_s: number;
  succeeded: number;
  lost: number;
  duplicated: number;
  runners: number;
  submitters: number;
  /** workerd's CPU time per job over the run (robust on a shared machine, unlike jobs/s). */
  workerd_cpu_ms_per_job: number | null;
  /** Durable Object calls per job over the run (under load: polls that find nothing count too). */
  do_calls_per_job: number;
}

/** `total` jobs through submit -> lease -> success on `pool` with 8 instant runners and 8 submitters. */
async function throughput(stack: BenchStack, pool: string, token: string, key: string, total: number) {
  const runners = 8;
  const submitters = 8;
  await stack.counters();
  const cpuBefore = workerdCpuMs();
  const { seconds, outcomes } = await driveJobs(stack, {
    key,
    token,
    total,
    pool,
    runners,
    submitters,
    prefix: `bench-${pool}`,
  });
  const cpuAfter = workerdCpuMs();
  await sleep(500); // outbox deliveries (index rows, pool releases) of the last jobs
  const counted = perJobCounts(await stack.counters(), total);
  const duplicated = [...outcomes.values()].filter((v) => v > 1).length;
  return {
    pool,
    jobs: total,
    seconds,
    jobs_per_s: total / seconds,
    succeeded: outcomes.size,
    lost: total - outcomes.size,
    duplicated,
    runners,
    submitters,
    workerd_cpu_ms_per_job: cpuBefore !== null && cpuAfter !== null ? (cpuAfter - cpuBefore) / total : null,
    do_calls_per_job: counted.do_calls,
  } satisfies ThroughputResult;
}

export async function benchJobs(quick = false): Promise<JobsBenchResult> {
  const stack = await startBenchStack({ vars: { DEFAULT_REQUESTS_PER_MINUTE: "1000000" } });
  try {
    await ensurePool(stack, "local");
    const token = await runnerToken(stack, "local");
    const t = await tenantWithKey(stack);
    const call = api(stack, t.key);

    // 1. submit -> lease with a runner already waiting.
    const runner = new ScriptedRunner(stack, token, "bench-waiter");
    const latencies: number[] = [];
    const n = quick ? 40 : 200;
    for (let i = 0; i < n + 5; i++) {
      const pending = runner.lease(20);
      await sleep(15); // let the long-poll reach the pool DO
      const start = performance.now();
      const submitted = await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } });
      if (submitted.status !== 202) throw new Error(`submit ${submitted.status}`);
      const grant = await pending;
      const ms = performance.now() - start;
      if (!grant) throw new Error("no lease");
      if (i >= 5) latencies.push(ms);
      await runner.event(grant.lease.id, { type: "succeeded", outputs: [] });
    }
    latencies.sort((a, b) => a - b);

    // 2. Operation counts for one job (submit, consumer routing, lease, success, index writes, pool release).
    const countJobs = 20;
    const counted = await countedJobs(stack, runner, t.key, countJobs);
    const limited = await tenantWithKey(stack, { limits: { max_queued_jobs: 10_000 } });
    const countedLimited = await countedJobs(stack, runner, limited.key, countJobs);
    // Auth: one KeyDO call per client request (submit here).
    const perJob = {
      do_calls: counted.do_calls,
      do_calls_excluding_auth: counted.do_calls - 1,
      d1_writes: counted.d1_writes,
      d1_reads: counted.d1_reads,
      breakdown: counted.breakdown,
      limited_tenant: {
        do_calls: countedLimited.do_calls,
        d1_writes: countedLimited.d1_writes,
        breakdown: countedLimited.breakdown,
      },
    };

    // 3. Throughput with instant runners, on the 1-shard pool and on a 2-shard pool (docs/capabilities.md §7).
    const total = quick ? 200 : 1000;
    const one = await throughput(stack, "local", token, t.key, total);
    await stack.admin("/admin/v1/pools", { name: "bench-2", shards: 2 });
    const token2 = await runnerToken(stack, "bench-2");
    const two = await throughput(stack, "bench-2", token2, t.key, total);
    return {
      submit_to_lease_ms: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), n: latencies.length },
      throughput: one,
      shards: { one, two },
      per_job: perJob,
    };
  } finally {
    await stack.close();
  }
}

function breakdown(b: Record<string, number>): string {
  return Object.entries(b)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(", ");
}

export function printJobs(r: JobsBenchResult): string[] {
  const f = (n: number) => n.toFixed(2);
  const cpu = (t: ThroughputResult) =>
    t.workerd_cpu_ms_per_job === null ? "n/a" : `${f(t.workerd_cpu_ms_per_job)} ms`;
  return [
    "## Jobs: submit -> lease, throughput, operations per job",
    "",
    `- submit -> lease (runner already waiting): p50 ${f(r.submit_to_lease_ms.p50)} ms, p99 ${f(r.submit_to_lease_ms.p99)} ms over ${r.submit_to_lease_ms.n} jobs (targets p50 <= 20 ms, p99 <= 100 ms)`,
    `- throughput: ${r.throughput.jobs} jobs in ${f(r.throughput.seconds)} s = ${f(r.throughput.jobs_per_s)} jobs/s with ${r.throughput.runners} instant runners and ${r.throughput.submitters} submitters (target >= 200/s); succeeded ${r.throughput.succeeded}, lost ${r.throughput.lost}, duplicated outcomes ${r.throughput.duplicated}; workerd CPU ${r.throughput.workerd_cpu_ms_per_job === null ? "n/a" : `${f(r.throughput.workerd_cpu_ms_per_job)} ms`} per job (jobs/s is noise on a shared machine; CPU per job is not)`,
    `- pool shards, same run on a 2-shard pool: ${f(r.shards.two.jobs_per_s)} jobs/s (1 shard ${f(r.shards.one.jobs_per_s)}), workerd CPU ${cpu(r.shards.two)} per job (1 shard ${cpu(r.shards.one)}), ${f(r.shards.two.do_calls_per_job)} DO calls per job under load (1 shard ${f(r.shards.one.do_calls_per_job)}); succeeded ${r.shards.two.succeeded}, lost ${r.shards.two.lost}, duplicated ${r.shards.two.duplicated}. On 2 shared cores both shards, the front worker and the load generator compete for the same CPU: 2 shards show the cost of sharding (CPU per job), not the gain a second core would give`,
    `- per job: ${f(r.per_job.do_calls)} Durable Object calls (${f(r.per_job.do_calls_excluding_auth)} without the submit's auth call; budget <= 3), ${f(r.per_job.d1_writes)} D1 writes (budget <= 2), ${f(r.per_job.d1_reads)} D1 reads`,
    `  - by call: ${breakdown(r.per_job.breakdown)}`,
    `- per job, tenant with max_queued_jobs set: ${f(r.per_job.limited_tenant.do_calls)} Durable Object calls, ${f(r.per_job.limited_tenant.d1_writes)} D1 writes; by call: ${breakdown(r.per_job.limited_tenant.breakdown)}`,
  ];
}

if (import.meta.main) {
  const r = await benchJobs(process.argv.includes("--quick"));
  console.log(printJobs(r).join("\n"));
  console.log(JSON.stringify(r.per_job));
}
