/**
 * CPU profile of the jobs throughput path on workerd (issue 14.7): runs the jobs bench's throughput loop
 * (instant scripted runners, submitters) with workerd's V8 inspector open, records a CPU profile of every
 * isolate (gateway with its Durable Objects, queue consumer) and prints self time by source file and by
 * function, per job. `node bench/profile-jobs.ts [jobs] [--out=dir]` writes the .cpuprofile files too
 * (open them in Chrome DevTools). Diagnostic tool, not part of `npm run bench`.
 */
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, ensurePool, runnerToken, ScriptedRunner, TRIVIAL_WORKFLOW, tenantWithKey } from "../test/harness/api.ts";
import { OUT } from "../test/harness/build.ts";
import { startBenchStack } from "./lib/bench-stack.ts";
import { workerdCpuMs } from "./lib/child-cpu.ts";
import { type CpuProfile, selfTimeBy } from "./lib/cpu-profile.ts";
import { driveJobs } from "./lib/drive-jobs.ts";

const total = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 1000);
const outDir = process.argv.find((a) => a.startsWith("--out="))?.slice(6);
const inspectorPort = 9300 + Math.floor(Math.random() * 500);

interface Target {
  id: string;
  title: string;
  webSocketDebuggerUrl: string;
}

class Session {
  private ws: WebSocket;
  private next = 1;
  private pending = new Map<number, (v: unknown) => void>();
  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener("message", (e) => {
      const msg = JSON.parse(String(e.data)) as { id?: number; result?: unknown; error?: unknown };
      if (msg.id !== undefined) this.pending.get(msg.id)?.(msg.error ? Promise.reject(msg.error) : msg.result);
    });
  }
  static open(url: string): Promise<Session> {
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve(new Session(ws)));
      ws.addEventListener("error", reject);
    });
  }
  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.next++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve) => this.pending.set(id, resolve as (v: unknown) => void));
  }
  close() {
    this.ws.close();
  }
}

const stack = await startBenchStack({ vars: { DEFAULT_REQUESTS_PER_MINUTE: "1000000" }, inspectorPort });
try {
  // The bundles as loaded (another run may rebuild .tmp/build meanwhile): their inline source maps name the files.
  if (outDir) for (const f of ["gateway-bench.mjs", "consumer-bench.mjs"]) copyFileSync(join(OUT, f), join(outDir, f));
  await ensurePool(stack, "local");
  const token = await runnerToken(stack, "local");
  const t = await tenantWithKey(stack);
  const call = api(stack, t.key);
  // Warm up (isolates, objects, caches) before recording.
  const warm = new ScriptedRunner(stack, token, "warm");
  for (let i = 0; i < 20; i++) {
    await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } });
    const g = await warm.lease(5);
    if (g) await warm.event(g.lease.id, { type: "succeeded", outputs: [] });
  }
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as Target[];
  const sessions = await Promise.all(
    targets.map(async (t) => {
      const s = await Session.open(t.webSocketDebuggerUrl.replace("localhost", "127.0.0.1"));
      await s.send("Profiler.enable");
      await s.send("Profiler.setSamplingInterval", { interval: 500 });
      await s.send("Profiler.start");
      return { target: t, s };
    }),
  );

  const cpuBefore = workerdCpuMs();
  const { seconds, outcomes } = await driveJobs(stack, { key: t.key, token, total, prefix: "prof" });
  const cpu = (workerdCpuMs() ?? 0) - (cpuBefore ?? 0);
  console.log(
    `${total} jobs in ${seconds.toFixed(2)} s = ${(total / seconds).toFixed(1)} jobs/s; workerd CPU ${(cpu / total).toFixed(2)} ms/job (profiler on); lost ${total - outcomes.size}`,
  );
  for (const { target, s } of sessions) {
    const { profile } = await s.send<{ profile: CpuProfile }>("Profiler.stop");
    s.close();
    if (outDir) writeFileSync(join(outDir, `${target.title.replace(/\W+/g, "_")}.cpuprofile`), JSON.stringify(profile));
    const { byFile, byFunction, totalMs } = selfTimeBy(profile);
    console.log(`\n### ${target.title}: ${(totalMs / total).toFixed(3)} ms sampled per job`);
    console.log("by file (self ms/job):");
    for (const [k, v] of byFile.slice(0, 25)) console.log(`  ${(v / total).toFixed(3)}  ${k}`);
    console.log("by function (self ms/job):");
    for (const [k, v] of byFunction.slice(0, 40)) console.log(`  ${(v / total).toFixed(3)}  ${k}`);
  }
} finally {
  await stack.close();
}
