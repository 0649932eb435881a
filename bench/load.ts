/**
 * `npm run load`: mixed traffic against the whole stack on workerd for a fixed time (default 120 s):
 * cached and uncached chat completions, job submits, status polls and SSE subscribers, served by instant
 * scripted runners. Reports the rate, errors (429s counted apart), p50/p99 per kind, and the lost-job
 * check (every submitted job reaches exactly one terminal state).
 *   node bench/load.ts [--duration=120] [--concurrency=24]
 */
import http from "node:http";
import {
  api,
  ensurePool,
  readSse,
  runnerToken,
  ScriptedRunner,
  TRIVIAL_WORKFLOW,
  tenantWithKey,
} from "../test/harness/api.ts";
import { startStack } from "../test/harness/stack.ts";
import { startUpstreamDouble } from "../test/llm/upstream-double.ts";
import { percentile, request, type Target } from "./lib/load.ts";
import { describeMachine } from "./lib/machine.ts";

const arg = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const DURATION_S = arg("duration", 120);
const CONCURRENCY = arg("concurrency", 24);
const SSE_SUBSCRIBERS = arg("sse", 8);
const RUNNERS = arg("runners", 4);
const MAX_BACKLOG = arg("backlog", 50);

type Kind = "chat_cached" | "chat_uncached" | "job_submit" | "job_poll";
const MIX: Array<[Kind, number]> = [
  ["chat_cached", 0.3],
  ["chat_uncached", 0.2],
  ["job_submit", 0.2],
  ["job_poll", 0.3],
];

const upstream = await startUpstreamDouble({ name: "load", models: ["load-model"], record: false });
const stack = await startStack({ vars: { LLM_UPSTREAM_URL: upstream.url, DEFAULT_REQUESTS_PER_MINUTE: "1000000" } });
await ensurePool(stack, "local");
const token = await runnerToken(stack, "local");
const tenant = await tenantWithKey(stack);
const auth = { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" };

const submitted: string[] = [];
const outcomes = new Map<string, number>();
const latencies: Record<Kind | "sse_first_event", number[]> = {
  chat_cached: [],
  chat_uncached: [],
  job_submit: [],
  job_poll: [],
  sse_first_event: [],
};
const statuses: Record<string, number> = {};
let errors = 0;
let limited = 0;
let seq = 0;
let stop = false;
let sseStalls = 0;

function pick(): Kind {
  let r = Math.random();
  for (const [kind, p] of MIX) {
    r -= p;
    if (r <= 0) return kind;
  }
  return "job_poll";
}

function target(kind: Kind): Target {
  switch (kind) {
    case "chat_cached":
      return {
        url: `${stack.url}/v1/chat/completions`,
        method: "POST",
        headers: auth,
        body: JSON.stringify({
          model: "load-model",
          temperature: 0,
          messages: [{ role: "user", content: `cached prompt ${seq++ % 20}` }],
        }),
      };
    case "chat_uncached":
      return {
        url: `${stack.url}/v1/chat/completions`,
        method: "POST",
        headers: auth,
        body: JSON.stringify({
          model: "load-model",
          temperature: 0.7,
          messages: [{ role: "user", content: `fresh ${seq++}` }],
        }),
      };
    case "job_submit":
      return {
        url: `${stack.url}/v1/jobs`,
        method: "POST",
        headers: auth,
        body: JSON.stringify({ workflow: TRIVIAL_WORKFLOW }),
      };
    case "job_poll": {
      const id = submitted[Math.floor(Math.random() * submitted.length)];
      return id ? { url: `${stack.url}/v1/jobs/${id}`, headers: auth } : { url: `${stack.url}/v1/me`, headers: auth };
    }
  }
}

async function client(): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  while (!stop) {
    let kind = pick();
    // Keep the job backlog bounded: a rate the runners cannot keep up with is not sustained.
    if (kind === "job_submit" && submitted.length - outcomes.size > MAX_BACKLOG) kind = "job_poll";
    try {
      const r = await request(agent, target(kind));
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.status === 429) limited++;
      else if (r.status >= 400) errors++;
      else latencies[kind].push(r.ms);
      if (kind === "job_submit" && r.status === 202) submitted.push((JSON.parse(r.body) as { id: string }).id);
    } catch {
      errors++;
    }
  }
  agent.destroy();
}

async function runner(i: number): Promise<void> {
  const r = new ScriptedRunner(stack, token, `load-runner-${i}`);
  while (!stop || outcomes.size < submitted.length) {
    const g = await r.lease(1);
    if (!g) {
      if (stop) break;
      continue;
    }
    const res = await r.event(g.lease.id, { type: "succeeded", outputs: [] });
    if (res.status === 200) outcomes.set(g.job.id, (outcomes.get(g.job.id) ?? 0) + 1);
  }
}

async function subscriber(): Promise<void> {
  const call = api(stack, tenant.key);
  while (!stop) {
    const job = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } })).json;
    if (!job?.id) continue;
    submitted.push(job.id);
    const start = performance.now();
    let first = true;
    await readSse(`${stack.url}/v1/jobs/${job.id}/events`, tenant.key, {
      timeoutMs: 30_000,
      until: (e) => {
        if (first) {
          latencies.sse_first_event.push(performance.now() - start);
          first = false;
        }
        return e.event === "succeeded" || e.event === "failed";
      },
    }).catch(async (err: Error) => {
      sseStalls++;
      const state = (await call(`/v1/jobs/${job.id}`)).json;
      console.error(
        `[load] SSE for ${job.id} ended without its terminal event (${err.message}); the job is ${state?.status}`,
      );
    });
  }
}

console.error(
  `[load] ${DURATION_S} s, ${CONCURRENCY} clients, ${SSE_SUBSCRIBERS} SSE subscribers, ${RUNNERS} instant runners`,
);
const started = performance.now();
const runners = Array.from({ length: RUNNERS }, (_, i) => runner(i));
const load = [...Array.from({ length: CONCURRENCY }, client), ...Array.from({ length: SSE_SUBSCRIBERS }, subscriber)];
await new Promise((r) => setTimeout(r, DURATION_S * 1000));
stop = true;
await Promise.all(load);
const elapsed = (performance.now() - started) / 1000;
const drainDeadline = Date.now() + 60_000;
await Promise.race([Promise.all(runners), new Promise((r) => setTimeout(r, Math.max(0, drainDeadline - Date.now())))]);

const unique = new Set(submitted);
const finished = [...unique].filter((id) => outcomes.has(id)).length;
const duplicated = [...outcomes.values()].filter((n) => n > 1).length;
const total = Object.values(statuses).reduce((a, b) => a + b, 0);
const lines = [
  `# Load: ${DURATION_S} s of mixed traffic`,
  "",
  `Machine: ${JSON.stringify(describeMachine())}. ${CONCURRENCY} closed-loop clients + ${SSE_SUBSCRIBERS} SSE subscribers + ${RUNNERS} instant runners, all on this machine with workerd.`,
  "",
  `- requests: ${total} in ${elapsed.toFixed(1)} s = ${(total / elapsed).toFixed(0)} req/s; errors ${errors}; 429 ${limited}; statuses ${JSON.stringify(statuses)}`,
  ...Object.entries(latencies).map(([k, v]) => {
    const s = [...v].sort((a, b) => a - b);
    return `- ${k}: n=${s.length}, p50 ${percentile(s, 50).toFixed(2)} ms, p99 ${percentile(s, 99).toFixed(2)} ms`;
  }),
  `- jobs: submitted ${unique.size}, finished ${finished}, lost ${unique.size - finished}, duplicated outcomes ${duplicated}; SSE streams that missed the terminal event: ${sseStalls}`,
];
console.log(lines.join("\n"));
stop = true;
await stack.close();
await upstream.close();
process.exit(unique.size - finished === 0 && duplicated === 0 && errors === 0 && sseStalls === 0 ? 0 : 1);
