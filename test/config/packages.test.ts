/**
 * One package per deployable (issue 13.8): each npm workspace declares the packages its code imports and
 * the Node it needs, and what a deployable needs installed (its dependencies and optional dependencies,
 * followed through package-lock.json; optional peers aside) leaves out the other deployables' libraries: the
 * runner ships no hono or aws4fetch (runner/Dockerfile also removes the optional peer aws4fetch of
 * @comfy-edge/shared, which npm installs anyway), the gateway no sharp.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
interface Manifest {
  name: string;
  private?: boolean;
  engines?: { node?: string };
  workspaces?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}
const read = (file: string): Manifest => JSON.parse(readFileSync(path.join(root, file), "utf8"));
const rootPkg = read("package.json");
const workspaces = rootPkg.workspaces ?? [];
const manifests = new Map(workspaces.map((dir) => [dir, read(`${dir}/package.json`)]));
const lock = JSON.parse(readFileSync(path.join(root, "package-lock.json"), "utf8")) as {
  packages: Record<
    string,
    {
      link?: boolean;
      resolved?: string;
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    }
  >;
};

/** Packages the non-test sources of a workspace import (runtime and type imports), by package name. */
function importedPackages(dir: string): Set<string> {
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts", "*.mjs"], {
    cwd: path.join(root, dir),
    encoding: "utf8",
  })
    .split("\n")
    .filter((f) => f !== "" && !f.endsWith(".test.ts") && !/(^|\/)test\//.test(f) && !f.endsWith(".d.ts"));
  const names = new Set<string>();
  const re =
    /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']((?:@[\w.-]+\/)?\w[\w.-]*(?:\/[\w./-]*)?|\w+:[\w/-]+)["']/gm;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(path.join(root, dir, file), "utf8");
    } catch {
      continue; // deleted in the work tree
    }
    for (const [, spec] of text.matchAll(re)) {
      if (spec === undefined || /^(node|cloudflare):/.test(spec) || builtinModules.includes(spec)) continue;
      const parts = spec.split("/");
      names.add(spec.startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] ?? spec));
    }
  }
  return names;
}

/** Packages a workspace needs at run time: its dependencies and optional dependencies, followed. */
function installs(dir: string): Set<string> {
  const seen = new Set<string>();
  const visit = (at: string): void => {
    const entry = lock.packages[at];
    if (entry === undefined) throw new Error(`package-lock.json has no entry ${at}`);
    if (entry.link === true && entry.resolved !== undefined) {
      visit(entry.resolved);
      return;
    }
    const optional = Object.keys(entry.optionalDependencies ?? {});
    for (const name of [...Object.keys(entry.dependencies ?? {}), ...optional]) {
      // Node's lookup: the nearest node_modules up from the dependent package.
      let from = at;
      let found: string | undefined;
      for (;;) {
        const candidate = from === "" ? `node_modules/${name}` : `${from}/node_modules/${name}`;
        if (lock.packages[candidate] !== undefined) {
          found = candidate;
          break;
        }
        if (from === "") break;
        const up = from.lastIndexOf("/node_modules/");
        from =
          up === -1
            ? from.startsWith("node_modules/")
              ? ""
              : path.posix.dirname(from).replace(/^\.$/, "")
            : from.slice(0, up);
      }
      if (found === undefined) {
        if (optional.includes(name)) continue;
        throw new Error(`${at} depends on ${name}, which package-lock.json does not install`);
      }
      if (seen.has(found)) continue;
      seen.add(found);
      visit(found);
    }
  };
  visit(dir);
  return new Set([...seen].map((where) => where.slice(where.lastIndexOf("node_modules/") + "node_modules/".length)));
}

describe("one package per deployable (npm workspaces)", () => {
  it("has a workspace for the shared code and each deployable, each private and stating its Node", () => {
    expect(workspaces).toEqual(["workers/shared", "workers/gateway", "workers/queue-consumer", "runner", "cli"]);
    for (const [dir, pkg] of manifests) {
      expect(pkg.name, dir).toBe(`@comfy-edge/${path.basename(dir)}`);
      expect(pkg.private, dir).toBe(true);
      expect(pkg.engines?.node, dir).toMatch(/\d/);
      expect(pkg.devDependencies, `${dir}: dev tooling lives in the root package.json`).toBeUndefined();
    }
    expect(rootPkg.engines?.node).toMatch(/\d/);
  });

  it.each(["workers/shared", "workers/gateway", "workers/queue-consumer", "runner", "cli"])(
    "%s declares every package its code imports",
    (dir) => {
      const pkg = manifests.get(dir);
      const declared = new Set([...Object.keys(pkg?.dependencies ?? {}), ...Object.keys(pkg?.peerDependencies ?? {})]);
      const imported = importedPackages(dir);
      expect(imported.size).toBeGreaterThan(0);
      expect([...imported].filter((name) => !declared.has(name) && name !== pkg?.name)).toEqual([]);
    },
  );

  it("the runner installs no gateway libraries, the gateway no image codec", () => {
    const runner = installs("runner");
    expect(runner).toContain("@comfy-edge/shared");
    expect(runner).toContain("sharp");
    expect(runner).not.toContain("hono");
    expect(runner).not.toContain("aws4fetch");
    const gateway = installs("workers/gateway");
    expect(gateway).toContain("hono");
    expect(gateway).not.toContain("sharp");
    const consumer = installs("workers/queue-consumer");
    expect(consumer).not.toContain("sharp");
    expect(consumer).not.toContain("hono");
  });
});
