/**
 * `npm run bench`: every benchmark of the project on workerd (programmatic Miniflare, no wrangler dev
 * proxy), each next to its baseline measured in the same run. Writes bench/results/latest.json and
 * bench/results/latest.md and prints the summary. `--quick` for a short smoke run; `--only a,b` to pick.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeMachine } from "./lib/machine.ts";

interface Bench {
  name: string;
  module: string;
  run: string;
  print: string;
}

const BENCHES: Bench[] = [
  { name: "auth", module: "./auth.ts", run: "benchAuth", print: "printAuth" },
  { name: "llm", module: "./llm.ts", run: "benchLlm", print: "printLlm" },
  { name: "jobs", module: "./jobs.ts", run: "benchJobs", print: "printJobs" },
  { name: "webhooks", module: "./webhooks.ts", run: "benchWebhooks", print: "printWebhooks" },
  { name: "runner", module: "./runner.ts", run: "benchRunner", print: "printRunner" },
  { name: "wan", module: "./wan.ts", run: "benchWan", print: "printWan" },
  { name: "capabilities", module: "./capabilities.ts", run: "benchCapabilities", print: "printCapabilities" },
  { name: "models", module: "./models.ts", run: "benchModels", print: "printModels" },
  { name: "console", module: "./console.ts", run: "benchConsole", print: "printConsole" },
];

const quick = process.argv.includes("--quick");
const onlyArg = process.argv.find((a) => a.startsWith("--only="))?.slice(7);
const only = onlyArg ? new Set(onlyArg.split(",")) : null;

const results: Record<string, unknown> = {};
const markdown: string[] = [
  "# comfy-edge benchmark results",
  "",
  `Run ${new Date().toISOString()}${quick ? " (quick)" : ""}. Machine: ${JSON.stringify(describeMachine())}.`,
  "All figures on workerd through programmatic Miniflare (no wrangler dev proxy), with state on tmpfs; the load generator, test doubles and workerd share the machine's cores.",
  "",
];
let failed = 0;
for (const bench of BENCHES) {
  if (only && !only.has(bench.name)) continue;
  const started = performance.now();
  try {
    const mod = (await import(bench.module)) as Record<string, (arg: unknown) => unknown>;
    if (typeof mod[bench.run] !== "function") throw new Error(`${bench.module} has no ${bench.run}()`);
    console.error(`[bench] ${bench.name}...`);
    const result = await mod[bench.run]!(quick);
    results[bench.name] = result;
    const lines = mod[bench.print]!(result) as string[];
    markdown.push(...lines, "");
    console.log(lines.join("\n") + "\n");
  } catch (err) {
    failed++;
    const message = err instanceof Error ? err.message : String(err);
    results[bench.name] = { error: message };
    markdown.push(`## ${bench.name}`, "", `Failed: ${message}`, "");
    console.error(`[bench] ${bench.name} failed: ${message}`);
  }
  console.error(`[bench] ${bench.name} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
const dir = join(import.meta.dirname, "results");
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, "latest.json"),
  JSON.stringify({ machine: describeMachine(), quick, at: new Date().toISOString(), results }, null, 2),
);
writeFileSync(join(dir, "latest.md"), markdown.join("\n"));
console.log(`Wrote bench/results/latest.json and latest.md${failed ? ` (${failed} benchmark(s) failed)` : ""}.`);
process.exit(failed ? 1 : 0);
