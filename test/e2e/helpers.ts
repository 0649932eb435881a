/** Shared fixtures for the runner's integration tests: the gateway stack, the ComfyUI double and a runner. */

import { loadConfig, type RunnerConfig } from "../../runner/src/config.ts";
import type { JobResult, JobRun } from "../../runner/src/job.ts";
import { createLogger, type Logger, silentLogger } from "../../runner/src/log.ts";
import { Runner, type RunnerOptions } from "../../runner/src/runner.ts";
import type { ComfyDouble } from "../comfyui-double/index.ts";
import { api, runnerToken, tenantWithKey } from "../harness/api.ts";
import type { Stack } from "../harness/stack.ts";

/** Logs to stderr when RUNNER_TEST_LOG is set (debugging), else nothing. */
export function testLogger(): Logger {
  const level = process.env.RUNNER_TEST_LOG;
  if (!level) return silentLogger;
  return createLogger({ level: level === "debug" ? "debug" : "info", write: (line) => process.stderr.write(line) });
}

export interface TestRunner {
  runner: Runner;
  config: RunnerConfig;
  /** Job results in order. */
  results: Array<{ result: JobResult; jobId: string; attempt: number }>;
  /** Resolves with the next result for `jobId` (or any job). */
  nextResult(jobId?: string, timeoutMs?: number): Promise<JobResult>;
  /** The latest result for `jobId`, waiting for one if there is none yet. */
  resultFor(jobId: string, timeoutMs?: number): Promise<JobResult>;
  close(): Promise<void>;
}

export async function startTestRunner(
  stack: Stack,
  comfyUrls: string[],
  options: {
    token?: string;
    pool?: string;
    env?: Record<string, string>;
    tuning?: RunnerOptions["tuning"];
    runnerId?: string;
  } = {},
): Promise<TestRunner> {
  const token = options.token ?? (await runnerToken(stack, options.pool ?? "local"));
  const config = loadConfig({
    GATEWAY_URL: stack.url,
    RUNNER_TOKEN: token,
    COMFYUI_URL: comfyUrls.join(","),
    RUNNER_ID: options.runnerId ?? "test-runner",
    METRICS_PORT: "0",
    ...options.env,
  });
  const results: TestRunner["results"] = [];
  const waiters: Array<{ jobId?: string; resolve: (r: JobResult) => void }> = [];
  const onJobDone = (result: JobResult, job: JobRun) => {
    results.push({ result, jobId: job.jobId, attempt: job.attempt });
    for (const w of [...waiters]) {
      if (w.jobId === undefined || w.jobId === job.jobId) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(result);
      }
    }
    options.tuning?.onJobDone?.(result, job);
  };
  const runner = await Runner.start({
    config,
    log: testLogger(),
    tuning: { leaseWaitS: 5, ...options.tuning, onJobDone },
  });
  const nextResult = (jobId?: string, timeoutMs = 20_000) => {
    return new Promise<JobResult>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no job result for ${jobId ?? "any job"} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      waiters.push({
        jobId,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
    });
  };
  return {
    runner,
    config,
    results,
    nextResult,
    resultFor(jobId, timeoutMs) {
      const existing = results.filter((r) => r.jobId === jobId).at(-1);
      return existing ? Promise.resolve(existing.result) : nextResult(jobId, timeoutMs);
    },
    close: () => runner.close({ drainMs: 0 }),
  };
}

export interface Client {
  call: ReturnType<typeof api>;
  key: string;
}

export async function client(stack: Stack): Promise<Client> {
  const t = await tenantWithKey(stack);
  return { call: api(stack, t.key), key: t.key };
}

export type { ComfyDouble };

/** A TCP proxy in front of the gateway that can cut one runner off (connections reset) and let it back. */
export interface CutProxy {
  url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startCutProxy(target: string): Promise<CutProxy> {
  const { createServer, connect } = await import("node:net");
  const upstream = new URL(target);
  let cut = false;
  const open = new Set<import("node:net").Socket>();
  const server = createServer((client) => {
    if (cut) {
      client.resetAndDestroy();
      return;
    }
    const remote = connect(Number(upstream.port), upstream.hostname);
    open.add(client);
    open.add(remote);
    const drop = () => {
      client.destroy();
      remote.destroy();
      open.delete(client);
      open.delete(remote);
    };
    client.on("error", drop).on("close", drop);
    remote.on("error", drop).on("close", drop);
    client.pipe(remote).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as import("node:net").AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut() {
      cut = true;
      for (const s of open) s.resetAndDestroy();
      open.clear();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Resolves when the slot's websocket sees ComfyUI start executing `nodeId` (of any prompt). */
export function executing(runner: Runner, nodeId: string, timeoutMs = 15_000): Promise<string> {
  const socket = runner.slots[0]!.socket;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`node ${nodeId} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = socket.subscribe({
      message(m) {
        if (m.type === "executing" && m.data.node === nodeId) {
          clearTimeout(timer);
          off();
          resolve(m.data.prompt_id ?? "");
        }
      },
    });
  });
}

/** The job's SSE stream up to its end, and the job as the API shows it then. */
export async function finished(stack: Stack, c: Client, jobId: string, timeoutMs = 30_000) {
  const { readSse } = await import("../harness/api.ts");
  const sse = await readSse(`${stack.url}/v1/jobs/${jobId}/events`, c.key, { timeoutMs });
  const job = (await c.call(`/v1/jobs/${jobId}`)).json;
  return { events: sse.events, job };
}
