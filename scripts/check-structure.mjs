#!/usr/bin/env node
/**
 * Structure check (npm run check:static): fails on a runtime import cycle between the project's .ts files
 * and on a source file over 400 lines. Generated files (*.d.ts, *.gen.ts), fixtures, recorded corpora and
 * data files are not source. `import type` / `export type` are erased at build time and do not count.
 *   node scripts/check-structure.mjs          exit 1 on any finding
 *   node scripts/check-structure.mjs --warn   print the findings, exit 0
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

const MAX_LINES = 400;
const root = path.resolve(import.meta.dirname, "..");
const NOT_SOURCE = [/\.d\.ts$/, /\.gen\.ts$/, /(^|\/)(fixtures|corpus|recordings)\//, /(^|\/)node_modules\//];

const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts", "*.mjs"], {
  cwd: root,
  encoding: "utf8",
})
  .split("\n")
  .filter((f) => f !== "" && !NOT_SOURCE.some((re) => re.test(f)));
const known = new Set(files);

/** Runtime imports of relative files: `import ... from "./x.ts"`, `export ... from`, side-effect imports. */
function imports(file, text) {
  const out = [];
  const re = /^\s*(import|export)\s+(type\s+)?([^"';]*?\s+from\s+)?["'](\.{1,2}\/[^"']+)["']/gm;
  for (const m of text.matchAll(re)) {
    if (m[2]) continue; // `import type` / `export type`: erased
    if (m[1] === "export" && !m[3]) continue;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[4]));
    if (known.has(target)) out.push(target);
  }
  return out;
}

const long = [];
const graph = new Map();
for (const file of files) {
  let text;
  try {
    text = readFileSync(path.join(root, file), "utf8");
  } catch {
    continue; // deleted in the work tree
  }
  const lines = text.endsWith("\n") ? text.split("\n").length - 1 : text.split("\n").length;
  if (lines > MAX_LINES && file.endsWith(".ts")) long.push([file, lines]);
  graph.set(file, imports(file, text));
}

// Tarjan's strongly connected components: each component of more than one file is a cycle.
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
let next = 0;
function visit(v) {
  index.set(v, next);
  low.set(v, next++);
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) === index.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  }
}
for (const v of graph.keys()) if (!index.has(v)) visit(v);

for (const [file, lines] of long.sort((a, b) => b[1] - a[1])) {
  console.log(`over ${MAX_LINES} lines: ${file} (${lines})`);
}
for (const component of cycles) console.log(`import cycle: ${component.join(" <-> ")}`);
const findings = long.length + cycles.length;
console.log(
  findings === 0
    ? `structure: ${files.length} files, no import cycle, none over ${MAX_LINES} lines`
    : `structure: ${long.length} file(s) over ${MAX_LINES} lines, ${cycles.length} import cycle(s)`,
);
if (findings > 0 && !process.argv.includes("--warn")) process.exit(1);
