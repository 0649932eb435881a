// Fails when the committed worker-configuration.d.ts files differ from what `wrangler types` generates.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { root, run } from "./lib.mjs";

const files = ["workers/gateway/worker-configuration.d.ts", "workers/queue-consumer/worker-configuration.d.ts"].map(
  (f) => join(root, f),
);
const before = files.map((f) => readFileSync(f, "utf8"));
const code = await run("npm", ["run", "--silent", "types"], { stdio: ["ignore", "ignore", "inherit"] });
if (code !== 0) process.exit(code);
const stale = files.filter((f, i) => readFileSync(f, "utf8") !== before[i]);
if (stale.length > 0) {
  console.error(`Env types were out of date and have been regenerated: ${stale.join(", ")}. Commit them.`);
  process.exit(1);
}
console.log("wrangler types: up to date");
