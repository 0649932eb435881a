/** The console's generated asset module matches its sources (run `node scripts/build-console.mjs` after edits). */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildConsoleModule, OUTPUT } from "../../scripts/build-console.mjs";

describe("console assets", () => {
  it("assets.gen.ts is the build of workers/gateway/src/console/client", async () => {
    const fresh = await buildConsoleModule();
    expect(readFileSync(OUTPUT, "utf8") === fresh, "run: node scripts/build-console.mjs").toBe(true);
  });

  it("bundles the SSE parser and uses nothing the console's CSP forbids (eval, new Function)", async () => {
    const fresh = await buildConsoleModule();
    // eventsource-parser is in the bundle: nothing is fetched from elsewhere at run time.
    expect(fresh).toContain("Buffered data exceeded max buffer size");
    expect(fresh).not.toMatch(/\beval\(|new Function\(/);
  });
});
