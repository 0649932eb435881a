/** `comfy-edge models set|show|resync` against the local stack (docs/models.md). */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main.ts";
import { runnerToken } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";

let stack: Stack;
let dir: string;
beforeAll(async () => {
  stack = await startStack();
  dir = await mkdtemp(join(tmpdir(), "cli-models-"));
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const env = { COMFY_EDGE_URL: stack.url, COMFY_EDGE_ADMIN_TOKEN: stack.adminToken };
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env, cwd: dir });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("comfy-edge models", () => {
  it("sets a manifest, shows each runner's files and asks for a re-sync", async () => {
    const token = await runnerToken(stack, "cli-models");
    const file = join(dir, "manifest.json");
    const sha256 = "c".repeat(64);
    await writeFile(
      file,
      JSON.stringify({
        models: [
          { url: "https://m.example.com/a.safetensors", folder: "checkpoints", filename: "a.safetensors", sha256 },
        ],
      }),
    );
    const set = await cli("models", "set", "--pool", "cli-models", "-f", file);
    expect(set.code, set.err).toBe(0);
    const digest = /manifest ([0-9a-f]{12})/.exec(set.out)?.[1];
    expect(digest).toBeDefined();
    // A runner reports a download in progress.
    const report = {
      runner_id: "gpu-7",
      manifest_digest: null,
      state: "syncing",
      warmup: { state: "none", seconds: null, error: null },
      files: [
        {
          folder: "checkpoints",
          filename: "a.safetensors",
          state: "downloading",
          bytes: 1048576,
          size: 4194304,
          error: null,
          source: "manifest",
        },
      ],
    };
    const put = await fetch(`${stack.url}/runner/v1/manifest/status`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(report),
    });
    expect(put.status).toBe(204);
    const show = await cli("models", "show", "--pool", "cli-models");
    expect(show.code, show.err).toBe(0);
    expect(show.out).toContain(`pool cli-models: manifest ${digest}`);
    expect(show.out).toContain("gpu-7: syncing (older manifest), warmup none");
    expect(show.out).toContain("checkpoints/a.safetensors: downloading 1.0 MB of 4.0 MB");
    const resync = await cli("models", "resync", "--pool", "cli-models");
    expect(resync.code, resync.err).toBe(0);
    expect(resync.out).toMatch(/re-sync requested \(manifest [0-9a-f]{12}\)/);
    expect(resync.out).not.toContain(digest);
  });

  it("explains what is missing", async () => {
    expect(await cli("models", "show")).toMatchObject({ code: 2, err: expect.stringContaining("needs --pool") });
    expect(await cli("models", "set", "--pool", "x")).toMatchObject({ code: 2, err: expect.stringContaining("-f") });
    const none = await cli("models", "resync", "--pool", "no-such-pool");
    expect(none.code).toBe(1);
    expect(none.err).toContain("pool_not_found");
  });
});
