#!/usr/bin/env node
// Installs dependencies when they are missing or older than package-lock.json, so `npm start` and
// `npm test` work on a fresh clone with any Node >= 20. The toolchain itself runs on the Node 24 that
// the `node` devDependency installs (npm scripts put node_modules/.bin first on PATH).
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { installDependencies } from "./lib.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const lock = join(root, "package-lock.json");
const marker = join(root, "node_modules", ".package-lock.json");
const nodeBin = join(root, "node_modules", "node", "bin", "node");

/** The workspace packages' links (node_modules/@comfy-edge/shared -> ../../workers/shared, ...). */
function workspaceLinks() {
  const { workspaces = [] } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  return workspaces.map((dir) => {
    const { name } = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
    return join(root, "node_modules", ...name.split("/"), "package.json");
  });
}

function upToDate() {
  if (!existsSync(marker) || !existsSync(nodeBin)) return false;
  // An install from before the workspaces (or one a manual edit broke) lacks the links: install again.
  if (!workspaceLinks().every((link) => existsSync(link))) return false;
  return statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
}

if (!upToDate()) {
  console.log("[comfy-edge] installing dependencies (npm install --no-save: package-lock.json stays as committed)...");
  const status = installDependencies(root);
  if (status !== 0) {
    console.error("[comfy-edge] npm install failed; see the output above.");
    process.exit(status);
  }
}
