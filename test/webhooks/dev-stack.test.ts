/**
 * The local stack as a user runs it: `ALLOW_PRIVATE_URLS=true npm start` (the real scripts/dev.mjs and
 * wrangler dev, on a free PORT and a scratch state directory), a webhook receiver on 127.0.0.1 verified
 * with `standardwebhooks`, down for the first attempt and up for the retry (issue 12.2): the local
 * switches must reach the queue consumer, not only the gateway.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRIVIAL_WORKFLOW } from "../harness/api.ts";
import { startReceiver } from "./receiver.ts";

const ROOT = join(import.meta.dirname, "..", "..");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function adminToken(): string {
  const line = readFileSync(join(ROOT, ".dev.vars"), "utf8")
    .split("\n")
    .find((l) => l.startsWith("ADMIN_TOKEN="));
  return (line ?? "").replace(/^ADMIN_TOKEN="?/, "").replace(/"$/, "");
}

describe("npm start with ALLOW_PRIVATE_URLS=true and a local webhook receiver", () => {
  let child: ChildProcess;
  let base = "";
  let output = "";
  const state = mkdtempSync(join(tmpdir(), "comfy-edge-dev-"));

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [join(ROOT, "scripts/dev.mjs")], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        RUNNER_METRICS_PORT: String(await freePort()),
        COMFY_EDGE_STATE_DIR: state,
        COMFYUI_URL: `http://127.0.0.1:${await freePort()}`, // no ComfyUI: jobs stay queued
        ALLOW_PRIVATE_URLS: "true",
        WEBHOOK_RETRY_DELAYS_S: "1,1,1,1,1,1,1,1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        output += d;
        if (output.includes(`comfy-edge is running at ${base}`)) resolve();
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) => reject(new Error(`npm start exited (${code}):\n${output.slice(-2000)}`)));
    });
    await ready;
  }, 90_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(state, { recursive: true, force: true });
  }, 30_000);

  it("delivers a signed webhook to http://127.0.0.1 after the receiver comes up", { timeout: 60_000 }, async () => {
    const admin = adminToken();
    const post = async (path: string, token: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as { id: string; key: string; webhook_secret: string } };
    };
    const tenant = await post("/admin/v1/tenants", admin, { name: `dev-stack-${Date.now()}` });
    expect(tenant.status).toBe(201);
    const key = await post("/admin/v1/keys", admin, { tenant_id: tenant.json.id, scopes: ["jobs"] });
    expect(key.status).toBe(201);

    // A port with nothing listening yet: the receiver is down for the first attempt.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/hooks`;
    const job = await post("/v1/jobs", key.json.key, {
      workflow: TRIVIAL_WORKFLOW,
      webhook: { url, events: ["job.canceled"] },
    });
    expect(job.status).toBe(202);
    expect((await post(`/v1/jobs/${job.json.id}/cancel`, key.json.key)).status).toBe(202);
    const log = async () => {
      const res = await fetch(`${base}/v1/jobs/${job.json.id}/webhook-deliveries`, {
        headers: { authorization: `Bearer ${key.json.key}` },
      });
      return ((await res.json()) as { data: Array<{ status: string; attempts: number; last_error: string | null }> })
        .data;
    };
    // Retried (not refused as unsafe by the consumer): pending after a failed connection.
    await expect
      .poll(async () => (await log())[0], { timeout: 30_000, interval: 250 })
      .toMatchObject({
        status: "pending",
        attempts: expect.any(Number),
        last_error: expect.stringMatching(/fetch_failed|not sent/),
      });

    const receiver = await startReceiver(port);
    try {
      const [got] = await receiver.waitFor((r) => r.length > 0, 40_000);
      const event = new Webhook(tenant.json.webhook_secret).verify(got!.body, {
        "webhook-id": got!.headers["webhook-id"]!,
        "webhook-timestamp": got!.headers["webhook-timestamp"]!,
        "webhook-signature": got!.headers["webhook-signature"]!,
      }) as { type: string; data: { id: string } };
      expect(event).toMatchObject({ type: "job.canceled", data: { id: job.json.id } });
      await expect.poll(async () => (await log())[0]?.status, { timeout: 10_000 }).toBe("delivered");
    } finally {
      await receiver.close();
    }
  });
});
