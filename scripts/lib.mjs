// Helpers shared by the npm scripts (plain JS so they run before any build step).
import { spawn, spawnSync } from "node:child_process";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Environment for wrangler/workerd: offline-safe (no telemetry, no cf.json fetch). */
export function toolEnv(extra = {}) {
  return {
    ...process.env,
    // node_modules/.bin first: wrangler and vitest then run on the Node 24 of the `node` devDependency.
    PATH: `${join(root, "node_modules", ".bin")}${delimiter}${process.env.PATH ?? ""}`,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_HIDE_BANNER: "true",
    // npm start's generated config sets local_dev.experimental_s3_credentials (the local object store's
    // per-install credentials); wrangler would warn that the field is experimental on every start.
    WRANGLER_DISABLE_EXPERIMENTAL_WARNING: "1",
    ...extra,
  };
}

export function bin(name) {
  return join(root, "node_modules", ".bin", name);
}

/** Runs a command to completion, inheriting stdio; resolves with its exit code. */
export function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: "inherit", env: toolEnv(), ...options });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/**
 * Installs exactly the versions package-lock.json pins, without writing it: `--no-save` keeps npm from
 * rewriting the lock file (npm versions disagree on which other platforms' optional binaries it lists), so
 * `npm start` on a fresh clone leaves `git status` clean. `npm install`, not `npm ci`: `npm ci` rejects a
 * lock file written without those optional binaries. Returns npm's exit status.
 */
export function installDependencies(cwd, options = {}) {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    stdio: options.stdio ?? "inherit",
    env: options.env ?? process.env,
  });
  return result.status ?? 1;
}
