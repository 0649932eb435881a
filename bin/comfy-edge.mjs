#!/usr/bin/env node
// The admin CLI and the GPU runner, run from a checkout: `npm run cli -- ...`, `npm run runner` or
// `node bin/comfy-edge.mjs ...` (never `npx comfy-edge`: the package is not published, so npx would fetch
// whatever the registry holds under that name). The code is TypeScript run by Node's type stripping
// (Node >= 22.18); on an older Node, re-run on the Node 24 that `npm install` put in node_modules (the
// `node` devDependency).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const bundled = join(here, "..", "node_modules", "node", "bin", "node");
  if (!existsSync(bundled)) {
    console.error(
      `comfy-edge needs Node >= 22.18 (this is ${process.version}). Run 'npm install' in the comfy-edge folder first.`,
    );
    process.exit(1);
  }
  const result = spawnSync(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(result.status ?? 1);
}
// Cache compiled (type-stripped) modules on disk: faster starts and a smaller resident runner.
const { enableCompileCache } = await import("node:module");
enableCompileCache?.();
const { main } = await import("../cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
