/**
 * The runner as the benchmarks run it: its own process (`node runner/src/main.ts`, as deployed), pointed at a
 * gateway and a ComfyUI, with its /metrics on a free port; resolves once it answers /readyz.
 *  BENCH_RUNNER_LOG: its log level, and its log on stdout (default: warnings, stdout dropped).
 *  BENCH_RUNNER_NODE_ARGS: extra node flags for it (e.g. --cpu-prof when investigating).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { ROOT } from "../../test/harness/build.ts";

export interface RunnerOptions {
  gatewayUrl: string;
  token: string;
  comfyUrl: string;
  id: string;
  /** Start with NODE_COMPILE_CACHE filled first, as the Docker image and the systemd unit run it. */
  compileCache?: boolean;
}

export interface RunnerProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port>/metrics */
  metricsUrl: string;
  /** SIGTERM, resolved when it has exited. */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Compiles (and so caches) every module the runner loads, without starting it. */
const WARM_CACHE = ["runner/src/main.ts", "runner/src/runner.ts"]
  .map((m) => `await import(${JSON.stringify(join(ROOT, m))});`)
  .join(" ");

function warmCompileCache(env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const warm = spawn(process.execPath, ["--input-type=module", "-e", WARM_CACHE], { env, stdio: "inherit" });
    warm.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`compile-cache warm-up exited ${code}`))));
  });
}

/** Resolves when the runner answers /readyz with 200 (polling here is only a start-up wait, with a guard). */
async function waitReady(url: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the runner exited with code ${child.exitCode}`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("the runner did not become ready");
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startRunnerProcess(options: RunnerOptions): Promise<RunnerProcess> {
  const metricsPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GATEWAY_URL: options.gatewayUrl,
    RUNNER_TOKEN: options.token,
    COMFYUI_URL: options.comfyUrl,
    RUNNER_ID: options.id,
    METRICS_PORT: String(metricsPort),
    LOG_LEVEL: process.env.BENCH_RUNNER_LOG ?? "warn",
  };
  if (options.compileCache) {
    env.NODE_COMPILE_CACHE = join(ROOT, ".tmp", "node-compile-cache");
    mkdirSync(env.NODE_COMPILE_CACHE, { recursive: true });
    await warmCompileCache(env);
  }
  const nodeArgs = (process.env.BENCH_RUNNER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, "runner/src/main.ts")], {
    env,
    stdio: ["ignore", process.env.BENCH_RUNNER_LOG ? "inherit" : "ignore", "inherit"],
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  try {
    await waitReady(`http://127.0.0.1:${metricsPort}/readyz`, child);
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, stop };
}
