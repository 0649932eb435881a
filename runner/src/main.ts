/**
 * Runner entry: `npm run runner` (= `node bin/comfy-edge.mjs runner`) or `node runner/src/main.ts`. Reads the environment once (failing
 * fast, naming the bad variable), starts the runner, and shuts down gracefully on SIGTERM/SIGINT: the first
 * signal drains (DRAIN_TIMEOUT_S), the second interrupts and gives jobs back at once, a third exits (a repeat
 * within a second counts as the same signal). Exits 3 if the gateway refuses the runner token.
 */
import { setFlagsFromString } from "node:v8";
import type { RunnerConfig } from "./config.ts";

/**
 * Keeps V8's young generation at its initial size instead of letting it grow to 16+ MB after bursts of
 * allocation: an idle runner then stays about 6 MB smaller, for a few more (cheap) scavenges. Set before the
 * runner's modules load (they are imported below, after it).
 */
export function tuneHeap(): void {
  setFlagsFromString("--semi-space-growth-factor=1");
}

export interface RunIo {
  err: (line: string) => void;
}

/** Runs until a signal stops it; resolves with the process exit code. */
export async function runRunner(
  env: Record<string, string | undefined> = process.env,
  io: RunIo = { err: (line) => process.stderr.write(`${line}\n`) },
): Promise<number> {
  tuneHeap();
  const { ConfigError, CREATE_TOKEN_HINT, loadConfig } = await import("./config.ts");
  const { createLogger } = await import("./log.ts");
  const { Runner } = await import("./runner.ts");
  let config: RunnerConfig;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`comfy-edge runner: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const log = createLogger({ level: config.logLevel, secrets: [config.runnerToken] });
  if (config.allowPrivateUrls) {
    const { privateUrlsWarning } = await import("@comfy-edge/shared/url-guard/policy");
    const warning = privateUrlsWarning({ ALLOW_PRIVATE_URLS: "true" });
    if (warning) log.warn(warning);
  }
  process.on("unhandledRejection", (reason) => log.error("unhandled promise rejection", { error: reason }));
  let runner: Awaited<ReturnType<typeof Runner.start>>;
  try {
    runner = await Runner.start({ config, log });
  } catch (err) {
    log.error("the runner could not start", { error: err });
    return 1;
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    let firstAt = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      // The same Ctrl-C often arrives twice (from the terminal to the process group, and forwarded by a
      // start script or init): a repeat within SAME_SIGNAL_MS is that one signal, not a request to hurry.
      if (signals > 0 && Date.now() - firstAt < SAME_SIGNAL_MS) {
        log.info("signal received again; already stopping", { signal });
        return;
      }
      signals += 1;
      if (signals === 1) {
        firstAt = Date.now();
        log.info("signal received: finishing running jobs (send it again to stop now)", { signal });
        runner.close().then(
          () => resolve(0),
          () => resolve(1),
        );
      } else if (signals === 2) {
        log.warn("second signal: interrupting running jobs and giving them back", { signal });
        runner.forceStop().then(
          () => resolve(0),
          () => resolve(1),
        );
      } else {
        log.error("third signal: exiting now", { signal });
        process.exit(130);
      }
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    void runner.tokenRefused.then(async (err) => {
      const message = `the gateway refused RUNNER_TOKEN (HTTP ${err.status} ${err.code}): ${err.message}. The token is invalid or revoked; create one with \`${CREATE_TOKEN_HINT}\` (in a checkout, where the admin token is), set RUNNER_TOKEN and start the runner again.`;
      log.error(message);
      io.err(`comfy-edge runner: ${message}`);
      await runner.close({ drainMs: 0 }).catch(() => {});
      resolve(TOKEN_REFUSED_EXIT);
    });
  });
}

/** Exit code when the gateway refuses the runner token (service managers should not restart on it). */
export const TOKEN_REFUSED_EXIT = 3;
const SAME_SIGNAL_MS = 1_000;

if (import.meta.main) {
  const code = await runRunner();
  process.exit(code);
}
