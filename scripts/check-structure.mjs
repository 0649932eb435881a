#!/usr/bin/env node
/**
 * Structure check (npm run check:static): fails on a runtime import cycle between the project's .ts files,
 * on a source file over 400 lines, and on an import of another workspace package by relative path. Imports of a workspace package by name (`@comfy-edge/shared/errors`)
 * count as imports of the file its package.json "exports" maps them to. Generated files (*.d.ts, *.gen.ts),
 * fixtures, recorded corpora and data files are not source. `import type` / `export type` are erased at build time and do not count.
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

/** The workspace packages (root package.json "workspaces"): name -> {dir, exports}. */
const packages = new Map();
for (const dir of JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).workspaces ?? []) {
  const pkg = JSON.parse(readFileSync(path.join(root, dir, "package.json"), "utf8"));
  packages.set(pkg.name, { dir, exports: pkg.exports ?? {} });
}

/** Repository path of a workspace package's subpath (`@comfy-edge/shared/errors`), through its "exports". */
function resolvePackage(spec) {
  for (const [name, { dir, exports }] of packages) {
    if (spec !== name && !spec.startsWith(`${name}/`)) continue;
    const want = `.${spec.slice(name.length)}`;
    let target = typeof exports[want] === "string" ? exports[want] : null;
    for (const [key, value] of Object.entries(exports)) {
      if (target !== null) break;
      const [pre, post] = key.split("*");
      if (post === undefined || typeof value !== "string") continue;
      if (want.startsWith(pre) && want.endsWith(post) && want.length > pre.length + post.length) {
        target = value.replace("*", want.slice(pre.length, want.length - post.length));
      }
    }
    return target === null ? null : path.posix.normalize(path.posix.join(dir, target));
  }
  return null;
}

/**
 * Runtime imports of the project's files: `import ... from "./x.ts"` or `from "@comfy-edge/shared/x"`,
 * `export ... from`, side-effect imports.
 */
function imports(file, text) {
  const out = [];
  const re = /^\s*(import|export)\s+(type\s+)?([^"';]*?\s+from\s+)?["']([^"']+)["']/gm;
  for (const m of text.matchAll(re)) {
    if (m[2]) continue; // `import type` / `export type`: erased
    if (m[1] === "export" && !m[3]) continue;
    const target = m[4].startsWith(".")
      ? path.posix.normalize(path.posix.join(path.posix.dirname(file), m[4]))
      : resolvePackage(m[4]);
    if (target !== null && known.has(target)) out.push(target);
  }
  return out;
}

/** Workspace folder holding a file, or null (test/, bench/, scripts/ belong to none). */
function packageDir(file) {
  for (const { dir } of packages.values()) if (file.startsWith(`${dir}/`)) return dir;
  return null;
}

/**
 * Imports of another workspace package's file by relative path (`../../workers/shared/errors.ts`): a package
 * imports another by name. workers/shared is imported by name from everywhere (the codemod
 * scripts/codemods/workspaces.mjs rewrites such paths); other packages' files from their non-test code.
 */
function crossPackage(file, text) {
  const own = packageDir(file);
  const testCode = /\.test\.ts$/.test(file) || /(^|\/)test\//.test(file);
  const out = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm;
  for (const m of text.matchAll(re)) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]));
    const other = packageDir(target);
    if (other === null || other === own) continue;
    if (other === "workers/shared" || (own !== null && !testCode)) out.push(`${file}: ${m[1]}`);
  }
  return out;
}

const long = [];
const byPath = [];
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
  byPath.push(...crossPackage(file, text));
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
for (const found of byPath) console.log(`imports another package by path, not by name: ${found}`);
const findings = long.length + cycles.length + byPath.length;
console.log(
  findings === 0
    ? `structure: ${files.length} files, no import cycle, none over ${MAX_LINES} lines, packages imported by name`
    : `structure: ${long.length} file(s) over ${MAX_LINES} lines, ${cycles.length} import cycle(s), ${byPath.length} import(s) of another package by path`,
);
if (findings > 0 && !process.argv.includes("--warn")) process.exit(1);
