#!/usr/bin/env node
// Installs dependencies when they are missing or older than package-lock.json, so `npm start` and
// `npm test` work on a fresh clone with any Node >= 20. The toolchain itself runs on the Node 24 that
// the `node` devDependency installs (npm scripts put node_modules/.bin first on PATH).
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const lock = join(root, "package-lock.json");
const marker = join(root, "node_modules", ".package-lock.json");
const nodeBin = join(root, "node_modules", "node", "bin", "node");

function upToDate() {
  if (!existsSync(marker) || !existsSync(nodeBin)) return false;
  return statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
}

if (!upToDate()) {
  // `npm install`, not `npm ci`: npm 11 writes lock files without the other platforms' optional binaries
  // (workerd, biome, esbuild), which `npm ci` then rejects as out of sync. With a lock file present,
  // `npm install` installs exactly the locked versions.
  console.log("[comfy-edge] installing dependencies (npm install)...");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["install", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: root,
    stdio: "inherit",
  });
  if (result.status !== 0) {
    console.error("[comfy-edge] npm install failed; see the output above.");
    process.exit(result.status ?? 1);
  }
}
