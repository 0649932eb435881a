#!/usr/bin/env node
// `npm test`: every test of the project (workerd project + node project), after making sure the
// browser used by the page tests is present (Debian's chromium; installed with apt-get when we are root).
import { existsSync } from "node:fs";
import { bin, run } from "./lib.mjs";

const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

async function ensureChromium() {
  if (existsSync(chromium)) return;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !existsSync("/usr/bin/apt-get")) {
    console.error(`[comfy-edge] Chromium is needed for the browser tests and was not found at ${chromium}.`);
    console.error("Install it (Debian/Ubuntu: sudo apt-get install -y chromium) or set CHROMIUM_PATH.");
    process.exit(1);
  }
  console.log(
    [
      `[comfy-edge] The browser tests (the /docs page) need Chromium, which is not at ${chromium}.`,
      "[comfy-edge] Installing the Debian package 'chromium' now (apt-get update + install, about 250 MB, once).",
      "[comfy-edge] To use a browser you already have instead: CHROMIUM_PATH=/path/to/chromium npm test",
    ].join("\n"),
  );
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if ((await run("apt-get", ["update", "-qq"], { env })) !== 0) process.exit(1);
  if ((await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"], { env })) !== 0)
    process.exit(1);
}

await ensureChromium();
process.exit(await run(bin("vitest"), ["run", ...process.argv.slice(2)]));
