/**
 * Issue 6 benchmark: the runner end to end. The gateway + consumer on workerd (programmatic Miniflare), the
 * ComfyUI double, and the runner as its own process (`node runner/src/main.ts`, as deployed), so its CPU and
 * memory are its own:
 *  - overhead of a trivial workflow (EmptyImage -> ImageInvert -> SaveImage): submit -> output downloaded,
 *    minus the double's own execution time (execution_start -> execution_success in its history), p50/p99;
 *  - the runner's CPU time per job, from its own process.cpuUsage() (scraped from its /metrics): a figure, not a target;
 *  - the runner's resident memory when idle (after start, and after the jobs);
 *  - cancel -> `canceled` latency of a running job (bench/cancel.ts).
 *   node bench/runner.ts [--quick]
 */
import { type ComfyDouble, startComfyDouble } from "../test/comfyui-double/index.ts";
import { runnerToken, TRIVIAL_WORKFLOW, tenantWithKey } from "../test/harness/api.ts";
import { startStack } from "../test/harness/stack.ts";
import { benchCancel, type CancelResult } from "./cancel.ts";
import { fmt, percentile } from "./lib/load.ts";
import { type RunnerProcess, startRunnerProcess } from "./lib/runner-process.ts";

export interface RunnerBenchResult {
  jobs: number;
  total_ms: { p50: number; p99: number; mean: number };
  comfyui_exec_ms: { p50: number; p99: number; mean: number };
  overhead_ms: { p50: number; p99: number; mean: number };
  runner_cpu_ms_per_job: number;
  /** The same over the first jobs after start (JIT still warming up). */
  runner_cpu_ms_per_job_warmup: number;
  warmup_jobs: number;
  /** Of which user space (the rest is the kernel: socket syscalls on loopback). */
  runner_cpu_user_ms_per_job: number;
  runner_cpu_ms_idle_per_s: number;
  runner_rss_mb: { idle_after_start: number; idle_after_jobs: number };
  compile_cache: boolean;
  cancel: CancelResult;
  targets: { overhead_p50_ms: number; idle_rss_mb: number; cancel_p99_ms: number };
  met: { overhead_p50: boolean; idle_rss: boolean; cancel_p99: boolean };
}

// Runner CPU per job is reported as a figure, not held to a target: GPU jobs take seconds, so a few ms of the
// runner's CPU per job is noise beside them (the earlier 4 ms target is withdrawn, issue 13).
const TARGETS = { overhead_p50_ms: 50, idle_rss_mb: 80, cancel_p99_ms: 2000 };

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
  };
}

interface Scrape {
  cpuS: number;
  userS: number;
  rssBytes: number;
}

async function scrape(metricsUrl: string): Promise<Scrape> {
  const text = await (await fetch(metricsUrl)).text();
  const value = (name: string) => {
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, "m").exec(text);
    if (!m) throw new Error(`the runner's /metrics has no ${name}`);
    return Number(m[1]);
  };
  return {
    cpuS: value("process_cpu_user_seconds_total") + value("process_cpu_system_seconds_total"),
    userS: value("process_cpu_user_seconds_total"),
    rssBytes: value("process_resident_memory_bytes"),
  };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

type TrivialPrompt = Record<string, { inputs: Record<string, unknown> } | undefined>;

/** The double's execution time of the job's prompt, found by the EmptyImage color only that job has. */
function execMs(comfy: ComfyDouble, jobId: string, color: number): number {
  const prompt = comfy.prompts().find((p) => (p.prompt as TrivialPrompt)["1"]?.inputs.color === color);
  if (!prompt) throw new Error(`no prompt for ${jobId}`);
  const entry = comfy.history()[prompt.prompt_id];
  const messages = (entry?.status?.messages ?? []) as Array<[string, { timestamp?: number }]>;
  const start = messages.find(([e]) => e === "execution_start")?.[1].timestamp;
  const end = messages.find(([e]) => e === "execution_success")?.[1].timestamp;
  if (start === undefined || end === undefined) throw new Error(`no execution timestamps for ${jobId}`);
  return end - start;
}

export async function benchRunner(quick = false): Promise<RunnerBenchResult> {
  const jobs = quick ? 100 : 300;
  const warmup = 150;
  const [stack, comfy] = await Promise.all([
    startStack({ vars: { DEFAULT_REQUESTS_PER_MINUTE: "1000000" } }),
    startComfyDouble(),
  ]);
  let runner: RunnerProcess | null = null;
  try {
    const token = await runnerToken(stack, "local");
    const tenant = await tenantWithKey(stack);
    // Started with its compile cache filled first (as a deployed runner's first start, or the Docker build, does).
    runner = await startRunnerProcess({
      gatewayUrl: stack.url,
      token,
      comfyUrl: comfy.url,
      id: "bench-runner",
      compileCache: true,
    });
    const metricsUrl = runner.metricsUrl;
    await settle(3_000);
    const idleStart = await scrape(metricsUrl);
    await settle(2_000);
    const idleEnd = await scrape(metricsUrl);
    const idleCpuPerS = ((idleEnd.cpuS - idleStart.cpuS) * 1000) / 2;

    const headers = { authorization: `Bearer ${tenant.key}`, "content-type": "application/json", prefer: "wait=30" };
    const runOne = async (i: number) => {
      const workflow = structuredClone(TRIVIAL_WORKFLOW);
      workflow["1"].inputs.color = i; // never served from ComfyUI's cache
      const t0 = performance.now();
      const res = await fetch(`${stack.url}/v1/jobs`, { method: "POST", headers, body: JSON.stringify({ workflow }) });
      const job = (await res.json()) as { id: string; status: string; error?: unknown };
      if (job.status !== "succeeded")
        throw new Error(`job ${job.id} ended ${job.status}: ${JSON.stringify(job.error)}`);
      const out = await fetch(`${stack.url}/v1/jobs/${job.id}/outputs/0`, {
        headers: { authorization: headers.authorization },
      });
      const bytes = await out.arrayBuffer();
      if (out.status !== 200 || bytes.byteLength === 0) throw new Error(`output of ${job.id}: ${out.status}`);
      return { total: performance.now() - t0, exec: execMs(comfy, job.id, i) };
    };
    const cold = await scrape(metricsUrl);
    for (let i = 0; i < warmup; i++) await runOne(1_000_000 + i);
    const before = await scrape(metricsUrl);
    const warmupCpuPerJob = ((before.cpuS - cold.cpuS) * 1000) / warmup;
    const totals: number[] = [];
    const execs: number[] = [];
    for (let i = 0; i < jobs; i++) {
      const r = await runOne(i);
      totals.push(r.total);
      execs.push(r.exec);
    }
    const after = await scrape(metricsUrl);
    await settle(3_000);
    const idleAfter = await scrape(metricsUrl);
    const cancel = await benchCancel(stack.url, tenant.key, comfy, quick ? 5 : 10);

    const cpuPerJob = ((after.cpuS - before.cpuS) * 1000) / jobs;
    const userPerJob = ((after.userS - before.userS) * 1000) / jobs;
    const overhead = stats(totals.map((t, i) => t - execs[i]!));
    const rssStart = idleStart.rssBytes / 1024 / 1024;
    const rssAfter = idleAfter.rssBytes / 1024 / 1024;
    return {
      jobs,
      total_ms: stats(totals),
      comfyui_exec_ms: stats(execs),
      overhead_ms: overhead,
      runner_cpu_ms_per_job: cpuPerJob,
      runner_cpu_ms_per_job_warmup: warmupCpuPerJob,
      warmup_jobs: warmup,
      runner_cpu_user_ms_per_job: userPerJob,
      runner_cpu_ms_idle_per_s: idleCpuPerS,
      runner_rss_mb: { idle_after_start: rssStart, idle_after_jobs: rssAfter },
      compile_cache: true,
      cancel,
      targets: TARGETS,
      met: {
        overhead_p50: overhead.p50 <= TARGETS.overhead_p50_ms,
        idle_rss: Math.max(rssStart, rssAfter) <= TARGETS.idle_rss_mb,
        cancel_p99: cancel.cancel_to_canceled_ms.p99 <= TARGETS.cancel_p99_ms,
      },
    };
  } finally {
    await runner?.stop();
    await comfy.close();
    await stack.close();
  }
}

export function printRunner(r: RunnerBenchResult): string[] {
  const yes = (ok: boolean) => (ok ? "met" : "NOT met");
  return [
    "## Runner (gateway + consumer on workerd, ComfyUI double, runner in its own process)",
    "",
    `${r.jobs} trivial jobs (EmptyImage -> ImageInvert -> SaveImage, a fresh color each so ComfyUI's cache never skips them), one at a time, each submitted with \`Prefer: wait\` and its output downloaded through the API.`,
    "",
    "| | p50 | p99 | mean |",
    "|---|---|---|---|",
    `| submit -> output downloaded | ${fmt(r.total_ms.p50)} ms | ${fmt(r.total_ms.p99)} ms | ${fmt(r.total_ms.mean)} ms |`,
    `| ComfyUI double's execution | ${fmt(r.comfyui_exec_ms.p50)} ms | ${fmt(r.comfyui_exec_ms.p99)} ms | ${fmt(r.comfyui_exec_ms.mean)} ms |`,
    `| **overhead** (difference) | **${fmt(r.overhead_ms.p50)} ms** | ${fmt(r.overhead_ms.p99)} ms | ${fmt(r.overhead_ms.mean)} ms |`,
    `| cancel -> \`canceled\` (${r.cancel.cancels} running jobs) | ${fmt(r.cancel.cancel_to_canceled_ms.p50)} ms | ${fmt(r.cancel.cancel_to_canceled_ms.p99)} ms | max ${fmt(r.cancel.cancel_to_canceled_ms.max)} ms |`,
    "",
    `- Overhead p50 ${fmt(r.overhead_ms.p50)} ms: target <= ${r.targets.overhead_p50_ms} ms, ${yes(r.met.overhead_p50)}.`,
    `- Cancel -> \`canceled\` p99 ${fmt(r.cancel.cancel_to_canceled_ms.p99)} ms: target <= ${r.targets.cancel_p99_ms} ms, ${yes(r.met.cancel_p99)}. Each job a chain of ImageInvert nodes of ${r.cancel.node_ms} ms each in the double, canceled while it executes (POST cancel -> GET with \`Prefer: wait\` answers \`canceled\`; ComfyUI stops at the next node, so up to ${r.cancel.node_ms} ms of it is ComfyUI's).`,
    `- Runner CPU per job ${fmt(r.runner_cpu_ms_per_job, 2)} ms (its own process.cpuUsage(): ${fmt(r.runner_cpu_user_ms_per_job, 2)} ms user + ${fmt(r.runner_cpu_ms_per_job - r.runner_cpu_user_ms_per_job, 2)} ms system), a figure to watch, not a target. Measured after ${r.warmup_jobs} warm-up jobs, which cost ${fmt(r.runner_cpu_ms_per_job_warmup, 2)} ms each (JIT warming up after start). Idle: ${fmt(r.runner_cpu_ms_idle_per_s, 2)} ms of CPU per second (including serving the two /metrics scrapes).`,
    `- Runner idle RSS ${fmt(r.runner_rss_mb.idle_after_start, 1)} MB after start, ${fmt(r.runner_rss_mb.idle_after_jobs, 1)} MB after the jobs: target <= ${r.targets.idle_rss_mb} MB, ${yes(r.met.idle_rss)}.${r.compile_cache ? " (Started with NODE_COMPILE_CACHE warm, as the Docker image and systemd unit run it: no TypeScript stripping at start.)" : ""}`,
  ];
}

if (import.meta.main) {
  const r = await benchRunner(process.argv.includes("--quick"));
  console.log(printRunner(r).join("\n"));
}
