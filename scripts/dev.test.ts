import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { devConfig, newS3Credentials, WELL_KNOWN_S3 } from "./dev-config.mjs";

const ROOT = join(import.meta.dirname, "..");

describe("local object store credentials", () => {
  it("are not in the committed wrangler.toml", () => {
    const committed = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
    expect(committed).not.toContain("experimental_s3_credentials");
    expect(committed).not.toContain(WELL_KNOWN_S3.secretAccessKey);
  });

  it("are generated per install and reach wrangler through the derived config", () => {
    const a = newS3Credentials();
    const b = newS3Credentials();
    expect(a.accessKeyId).not.toBe(b.accessKeyId);
    expect(a.secretAccessKey.length).toBeGreaterThanOrEqual(40);
    expect(a.accessKeyId).not.toBe(WELL_KNOWN_S3.accessKeyId);
    // Written next to wrangler.toml (as npm start does), so its relative paths resolve the same.
    const path = join(ROOT, `.dev.wrangler.test-${randomBytes(4).toString("hex")}.toml`);
    writeFileSync(path, devConfig(readFileSync(join(ROOT, "wrangler.toml"), "utf8"), a));
    try {
      const { workerOptions } = unstable_getMiniflareWorkerOptions(path);
      const buckets = workerOptions.r2Buckets as Record<string, { s3Credentials?: unknown }>;
      expect(buckets.FILES?.s3Credentials).toEqual(a);
    } finally {
      rmSync(path, { force: true });
    }
  });

  it("refuses a config that already holds credentials", () => {
    const source =
      '[[r2_buckets]]\nbinding = "FILES"\nbucket_name = "b"\nlocal_dev = { experimental_s3_credentials = {} }\n';
    expect(() => devConfig(source, newS3Credentials())).toThrow(/must not hold S3 credentials/);
  });
});

describe("npm start with a port in use", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  async function occupied(): Promise<number> {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as { port: number }).port;
  }

  /** Runs scripts/dev.mjs; it checks its ports before touching anything (no .dev.vars written). */
  function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, "scripts/dev.mjs")], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.on("exit", (code) => resolve({ code, stderr }));
    });
  }

  it("names PORT when the API port is taken", async () => {
    const port = await occupied();
    const { code, stderr } = await start({ PORT: String(port), RUNNER_METRICS_PORT: "0" });
    expect(code).toBe(1);
    expect(stderr).toContain(`127.0.0.1:${port}`);
    expect(stderr).toContain(`PORT=${port + 1} npm start`);
  });

  it("names RUNNER_METRICS_PORT when the runner's metrics port is taken", async () => {
    const api = await occupied();
    const metrics = await occupied();
    servers.shift()?.close();
    const { code, stderr } = await start({ PORT: String(api), RUNNER_METRICS_PORT: String(metrics) });
    expect(code).toBe(1);
    expect(stderr).toContain("RUNNER_METRICS_PORT=");
    expect(stderr).not.toContain("PORT=" + String(api + 1));
  });

  it("says what PORT must be when it is not a port number", async () => {
    const { code, stderr } = await start({ PORT: "http", RUNNER_METRICS_PORT: "0" });
    expect(code).toBe(1);
    expect(stderr).toContain('PORT must be a port number (0-65535), got "http"');
  });
});
