/**
 * One workerd for everything (issue 13.8): the gateway unit tests (@cloudflare/vitest-plugin), the
 * cross-component stack (test/harness/stack.ts, Miniflare) and `npm start` (wrangler dev) must run the same
 * runtime. The lock file is what installs: every copy of workerd, miniflare and wrangler in it has one
 * version, and the direct miniflare and wrangler pins are the versions installed.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const lock = JSON.parse(readFileSync(path.join(root, "package-lock.json"), "utf8")) as {
  packages: Record<string, { version?: string }>;
};
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
  devDependencies: Record<string, string>;
};

/** Every version of `name` the lock installs, wherever it is nested. */
function versionsOf(name: string): string[] {
  const found = Object.entries(lock.packages)
    .filter(([where]) => where === `node_modules/${name}` || where.endsWith(`/node_modules/${name}`))
    .map(([, entry]) => entry.version ?? "");
  return [...new Set(found)];
}

describe("one workerd version across unit tests, the test stack and npm start", () => {
  it.each(["workerd", "miniflare", "wrangler"])("the lock installs one version of %s", (name) => {
    expect(versionsOf(name)).toHaveLength(1);
  });

  it("pins miniflare and wrangler exactly, to the versions installed", () => {
    expect([pkg.devDependencies.miniflare, pkg.devDependencies.wrangler]).toEqual([
      versionsOf("miniflare")[0],
      versionsOf("wrangler")[0],
    ]);
  });

  it("uses the Vitest plugin, not the deprecated pool package", () => {
    expect(Object.keys(lock.packages)).toContain("node_modules/@cloudflare/vitest-plugin");
    expect(Object.keys(lock.packages).filter((p) => p.includes("vitest-pool-workers"))).toEqual([]);
  });
});
