#!/usr/bin/env node
/**
 * Codemod (idempotent): imports of the shared package by relative path (`../../workers/shared/errors.ts`,
 * `../../shared/contract/index.ts`, any depth) become imports by name (`@comfy-edge/shared/errors`,
 * `@comfy-edge/shared/contract`), following workers/shared/package.json "exports". Imports inside
 * workers/shared stay relative. Covers `import ... from`, `export ... from`, side-effect imports,
 * `import("...")` (types included) and `vi.mock`/`vi.importActual`.
 *   node scripts/codemods/workspaces.mjs          rewrite (then biome sorts their imports), print the files changed
 *   node scripts/codemods/workspaces.mjs --check  exit 1 if any file still imports the shared package by path
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");
const SHARED_DIR = "workers/shared";
const pkg = JSON.parse(readFileSync(path.join(root, SHARED_DIR, "package.json"), "utf8"));

/** Subpath of the package for a file of it (inverse of "exports"), or null if the file is not exported. */
function subpathFor(rel) {
  const candidates = [];
  for (const [key, target] of Object.entries(pkg.exports)) {
    if (typeof target !== "string") continue;
    if (!key.includes("*")) {
      if (path.posix.normalize(target) === rel) candidates.push(key);
      continue;
    }
    const [tPre, tPost] = target.split("*");
    const [kPre, kPost] = key.split("*");
    const file = `./${rel}`;
    if (file.startsWith(tPre) && file.endsWith(tPost) && file.length > tPre.length + tPost.length) {
      const star = file.slice(tPre.length, file.length - tPost.length);
      candidates.push(`${kPre}${star}${kPost}`);
    }
  }
  if (candidates.length === 0) return null;
  candidates.sort((a, b) => a.length - b.length); // shortest: `./contract` over `./contract/index`
  return `${pkg.name}${candidates[0].slice(1)}`;
}

/** File of the package (relative to it) a subpath specifier resolves to through "exports", or null. */
function fileFor(subpath) {
  const want = `.${subpath}`;
  if (typeof pkg.exports[want] === "string") return path.posix.normalize(pkg.exports[want]);
  for (const [key, target] of Object.entries(pkg.exports)) {
    if (!key.includes("*") || typeof target !== "string") continue;
    const [kPre, kPost] = key.split("*");
    if (want.startsWith(kPre) && want.endsWith(kPost) && want.length > kPre.length + kPost.length) {
      return path.posix.normalize(target.replace("*", want.slice(kPre.length, want.length - kPost.length)));
    }
  }
  return null;
}

const files = execFileSync(
  "git",
  ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts", "*.mts", "*.mjs"],
  {
    cwd: root,
    encoding: "utf8",
  },
)
  .split("\n")
  .filter((f) => f !== "" && !f.startsWith(`${SHARED_DIR}/`) && !f.includes("node_modules/"));

const SPEC = new RegExp(
  `(\\bfrom\\s*|\\bimport\\s*\\(\\s*|^\\s*import\\s+|\\bvi\\.(?:mock|doMock|importActual|importMock)\\(\\s*)(["'])((?:\\.{1,2}|${pkg.name})\\/[^"'\\n]+)\\2`,
  "gm",
);
const check = process.argv.includes("--check");
const changed = [];
const unexported = [];
for (const file of files) {
  let text;
  try {
    text = readFileSync(path.join(root, file), "utf8");
  } catch {
    continue; // deleted in the work tree
  }
  const next = text.replace(SPEC, (whole, lead, quote, spec) => {
    let rel;
    if (spec.startsWith(`${pkg.name}/`)) {
      rel = fileFor(spec.slice(pkg.name.length)); // already by name: make it the canonical subpath
      if (rel === null) return whole;
    } else {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      if (!target.startsWith(`${SHARED_DIR}/`)) return whole;
      rel = target.slice(SHARED_DIR.length + 1);
    }
    const sub = subpathFor(rel);
    if (sub === null) {
      unexported.push(`${file}: ${spec}`);
      return whole;
    }
    return `${lead}${quote}${sub}${quote}`;
  });
  if (next !== text) {
    changed.push(file);
    if (!check) writeFileSync(path.join(root, file), next);
  }
}
// Bare imports sort before relative ones: let biome re-order the import blocks of the rewritten files (its
// organizeImports assist) and re-wrap the ones the shorter specifier now fits on one line (no lint fixes).
if (!check && changed.length > 0) {
  execFileSync(
    path.join(root, "node_modules", ".bin", "biome"),
    ["check", "--write", "--linter-enabled=false", ...changed],
    { cwd: root, stdio: "inherit" },
  );
}
for (const f of changed) console.log(`${check ? "imports the shared package by path" : "rewrote"}: ${f}`);
for (const u of unexported) console.error(`not exported by ${pkg.name} (add it to exports): ${u}`);
console.log(`workspaces codemod: ${changed.length} file(s) ${check ? "to rewrite" : "rewritten"}`);
if ((check && changed.length > 0) || unexported.length > 0) process.exit(1);
