/**
 * Issue 14.8, the WAN benchmark: the runner (its own process, as deployed) reaches the gateway through a
 * TCP proxy that delays every chunk by 20 ms each way (40 ms round trip; bench/lib/delay-proxy.ts), as a
 * GPU host far from the edge does. For a trivial job (EmptyImage -> ImageInvert -> SaveImage on the
 * ComfyUI double), one at a time:
 *  - end to end: submit (Prefer: wait) -> succeeded -> output downloaded, by the client next to the gateway;
 *  - the same work driving the double directly (POST /prompt, websocket until done, /history, /view);
 *  - added latency = end to end - direct, on the WAN link and on loopback (0 ms), and the WAN's share of it
 *    in round trips ((WAN - loopback) / RTT): the runner's sequential round trips on the job's path;
 *  - the runner's requests per job through the proxy, by kind; Durable Object calls and D1 writes per job.
 * Target (issue 14.8): added <= 3 round trips + 30 ms.
 *   node bench/wan.ts [--quick]
 */
import { type ComfyDouble, startComfyDouble } from "../test/comfyui-double/index.ts";
import { runnerToken, TRIVIAL_WORKFLOW, tenantWithKey } from "../test/harness/api.ts";
import { startBenchStack } from "./lib/bench-stack.ts";
import { type DelayProxy, startDelayProxy } from "./lib/delay-proxy.ts";
import { fmt, percentile } from "./lib/load.ts";
import { type RunnerProcess, startRunnerProcess } from "./lib/runner-process.ts";

const ONE_WAY_MS = 20;
const RTT_MS = 2 * ONE_WAY_MS;
const TARGET = { round_trips: 3, extra_ms: 30 };

export interface WanBenchResult {
  jobs: number;
  one_way_ms: number;
  direct_ms: number;
  e2e_ms: { wan: number; loopback: number };
  added_ms: { wan: number; loopback: number };
  /** (WAN - loopback) / RTT: sequential runner round trips on the job's path. */
  wan_round_trips: number;
  target_ms: number;
  met: boolean;
  runner_requests_per_job: Record<string, number>;
  per_job: { do_calls: number; d1_writes: number; breakdown: Record<string, number> };
}

const p50 = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

/** The same prompt, driven straight against ComfyUI: queue it, wait on the websocket, read /history and /view. */
async function direct(comfy: ComfyDouble, color: number): Promise<number> {
  const clientId = crypto.randomUUID();
  const ws = new WebSocket(`${comfy.url.replace("http", "ws")}/ws?clientId=${clientId}`);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const workflow = structuredClone(TRIVIAL_WORKFLOW);
  workflow["1"].inputs.color = color;
  const t0 = performance.now();
  let promptId = "";
  const done = new Promise<void>((resolve) => {
    ws.onmessage = (e) => {
      if (typeof e.data !== "string") return;
      const m = JSON.parse(e.data) as { type: string; data: { node?: string | null; prompt_id?: string } };
      if (m.type === "executing" && m.data.node === null && m.data.prompt_id === promptId) resolve();
    };
  });
  const posted = (await (
    await fetch(`${comfy.url}/prompt`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: workflow, client_id: clientId }),
    })
  ).json()) as { prompt_id: string };
  promptId = posted.prompt_id;
  await done;
  const history = (await (await fetch(`${comfy.url}/history/${promptId}`)).json()) as Record<
    string,
    { outputs: Record<string, { images: Array<{ filename: string; subfolder: string; type: string }> }> }
  >;
  const image = Object.values(history[promptId]!.outputs)[0]!.images[0]!;
  const q = new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type });
  const view = await fetch(`${comfy.url}/view?${q}`);
  if (view.status !== 200 || (await view.arrayBuffer()).byteLength === 0) throw new Error("direct /view failed");
  const ms = performance.now() - t0;
  ws.close();
  return ms;
}

/** What a request through the proxy is, for the per-job counts. */
function kind(method: string, path: string): string {
  if (path === "/runner/v1/lease") return "lease";
  const lease = /^\/runner\/v1\/leases\/[^/]+\/?(.*)$/.exec(path);
  if (lease) return lease[1] ? lease[1] : `${method} lease`;
  if (method === "PUT") return "PUT output (storage)";
  if (method === "GET" && !path.startsWith("/runner/")) return "GET input (storage)";
  return `${method} ${path}`;
}

export async function benchWan(quick = false): Promise<WanBenchResult> {
  const jobs = quick ? 15 : 40;
  const [stack, comfy] = await Promise.all([
    startBenchStack({ vars: { DEFAULT_REQUESTS_PER_MINUTE: "1000000" } }),
    startComfyDouble(),
  ]);
  let proxy: DelayProxy | null = null;
  let runner: RunnerProcess | null = null;
  try {
    proxy = await startDelayProxy(new URL(stack.url), 0);
    const token = await runnerToken(stack, "local");
    const tenant = await tenantWithKey(stack);
    runner = await startRunnerProcess({ gatewayUrl: proxy.url, token, comfyUrl: comfy.url, id: "wan-runner" });

    const headers = { authorization: `Bearer ${tenant.key}`, "content-type": "application/json", prefer: "wait=30" };
    let color = 0;
    const e2e = async () => {
      const workflow = structuredClone(TRIVIAL_WORKFLOW);
      workflow["1"].inputs.color = ++color; // never served from ComfyUI's cache, nor the output cache
      const t0 = performance.now();
      const res = await fetch(`${stack.url}/v1/jobs`, { method: "POST", headers, body: JSON.stringify({ workflow }) });
      const job = (await res.json()) as { id: string; status: string; error?: unknown };
      if (job.status !== "succeeded")
        throw new Error(`job ${job.id} ended ${job.status}: ${JSON.stringify(job.error)}`);
      const out = await fetch(`${stack.url}/v1/jobs/${job.id}/outputs/0`, {
        headers: { authorization: headers.authorization },
      });
      if (out.status !== 200 || (await out.arrayBuffer()).byteLength === 0) throw new Error(`output of ${job.id}`);
      return performance.now() - t0;
    };
    // The runner's next lease is waiting when a job comes (as in production): let it settle after each job.
    const settle = () => new Promise((r) => setTimeout(r, 4 * ONE_WAY_MS + 20));
    const series = async (n: number, run: () => Promise<number>) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        out.push(await run());
        await settle();
      }
      return out;
    };

    for (let i = 0; i < 10; i++) await direct(comfy, 1_000_000 + i);
    await series(10, e2e); // warm-up on loopback
    const directMs = await series(jobs, () => direct(comfy, 2_000_000 + color++));
    const loopback = await series(jobs, e2e);

    proxy.delayMs = ONE_WAY_MS;
    await series(3, e2e); // the runner's open long poll started before the delay; let it turn over
    await stack.counters();
    proxy.requests.length = 0;
    const wan = await series(jobs, e2e);
    const counts = await stack.counters();
    const requests: Record<string, number> = {};
    for (const r of proxy.requests) {
      const k = kind(r.method, r.path);
      requests[k] = (requests[k] ?? 0) + 1 / jobs;
    }
    const breakdown: Record<string, number> = {};
    for (const side of [counts.gateway, counts.consumer])
      for (const [k, v] of Object.entries(side.by_method)) breakdown[k] = (breakdown[k] ?? 0) + v / jobs;

    const added = { wan: p50(wan) - p50(directMs), loopback: p50(loopback) - p50(directMs) };
    const targetMs = TARGET.round_trips * RTT_MS + TARGET.extra_ms;
    return {
      jobs,
      one_way_ms: ONE_WAY_MS,
      direct_ms: p50(directMs),
      e2e_ms: { wan: p50(wan), loopback: p50(loopback) },
      added_ms: added,
      wan_round_trips: (p50(wan) - p50(loopback)) / RTT_MS,
      target_ms: targetMs,
      met: added.wan <= targetMs,
      runner_requests_per_job: requests,
      per_job: {
        do_calls: (counts.gateway.do_calls + counts.consumer.do_calls) / jobs,
        d1_writes: (counts.gateway.d1_writes + counts.consumer.d1_writes) / jobs,
        breakdown,
      },
    };
  } finally {
    await runner?.stop();
    await proxy?.close();
    await comfy.close();
    await stack.close();
  }
}

export function printWan(r: WanBenchResult): string[] {
  const list = (o: Record<string, number>) =>
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(", ");
  return [
    `## WAN: the runner ${r.one_way_ms} ms each way from the gateway`,
    "",
    `${r.jobs} trivial jobs one at a time (EmptyImage -> ImageInvert -> SaveImage on the ComfyUI double), the runner in its own process behind a TCP proxy adding ${r.one_way_ms} ms each way; the client next to the gateway submits with \`Prefer: wait\` and downloads the output. p50 figures.`,
    "",
    "| | p50 |",
    "|---|---|",
    `| ComfyUI driven directly (prompt, websocket, /history, /view) | ${fmt(r.direct_ms)} ms |`,
    `| end to end, runner on loopback | ${fmt(r.e2e_ms.loopback)} ms (added ${fmt(r.added_ms.loopback)} ms) |`,
    `| end to end, runner over the ${2 * r.one_way_ms} ms link | ${fmt(r.e2e_ms.wan)} ms (**added ${fmt(r.added_ms.wan)} ms**) |`,
    "",
    `- Added latency over the link: ${fmt(r.added_ms.wan)} ms, target <= ${TARGET.round_trips} round trips + ${TARGET.extra_ms} ms = ${r.target_ms} ms: ${r.met ? "met" : "NOT met"}. The link's share: ${r.wan_round_trips.toFixed(2)} round trips of ${2 * r.one_way_ms} ms on the job's path (lease answer, output PUT, succeeded).`,
    `- Runner requests per job through the link: ${list(r.runner_requests_per_job)}.`,
    `- Per job: ${r.per_job.do_calls.toFixed(2)} Durable Object calls (budget <= 3 + auth), ${r.per_job.d1_writes.toFixed(2)} D1 writes (budget <= 2); by call: ${list(r.per_job.breakdown)}.`,
  ];
}

if (import.meta.main) {
  const r = await benchWan(process.argv.includes("--quick"));
  console.log(printWan(r).join("\n"));
}
