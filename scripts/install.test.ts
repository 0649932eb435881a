import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { installDependencies } from "./lib.mjs";

describe("dependency install (npm start / npm test on a fresh clone)", () => {
  it("installs without rewriting package-lock.json", () => {
    const dir = mkdtempSync(join(tmpdir(), "comfy-edge-install-"));
    try {
      writeFileSync(join(dir, "package.json"), '{"name":"x","version":"1.0.0","private":true}\n');
      // A lock file npm would rewrite if allowed to (it lacks fields npm adds), as a lock written by
      // another npm version lacks entries this one would add.
      const lock =
        '{\n  "name": "x",\n  "lockfileVersion": 3,\n  "requires": true,\n  "packages": {\n    "": {\n      "name": "x"\n    }\n  }\n}\n';
      writeFileSync(join(dir, "package-lock.json"), lock);
      const status = installDependencies(dir, { stdio: "ignore", env: { ...process.env, npm_config_offline: "true" } });
      expect(status).toBe(0);
      expect(readFileSync(join(dir, "package-lock.json"), "utf8")).toBe(lock);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
