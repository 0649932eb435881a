/** Signed webhooks end to end on workerd: verified with the independent `standardwebhooks` package. */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { api, ensurePool, runnerToken, ScriptedRunner, TRIVIAL_WORKFLOW, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { type Receiver, startReceiver } from "./receiver.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 9, 9]);

function verify(secret: string, r: { body: string; headers: Record<string, string> }) {
  return new Webhook(secret).verify(r.body, {
    "webhook-id": r.headers["webhook-id"]!,
    "webhook-timestamp": r.headers["webhook-timestamp"]!,
    "webhook-signature": r.headers["webhook-signature"]!,
  });
}

describe("webhooks", () => {
  let stack: Stack;
  let receiver: Receiver;
  let runner: ScriptedRunner;
  beforeAll(async () => {
    stack = await startStack({ vars: { ALLOW_PRIVATE_URLS: "true", WEBHOOK_RETRY_DELAYS_S: "1,1,1,1,1,1,1,1" } });
    await ensurePool(stack, "local");
    runner = new ScriptedRunner(stack, await runnerToken(stack, "local"));
    receiver = await startReceiver();
  }, 60_000);
  beforeEach(() => {
    receiver.received.length = 0;
    receiver.respond = 200;
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  async function runJob(key: string, webhook: Record<string, unknown>, outcome: "succeeded" | "failed" = "succeeded") {
    const call = api(stack, key);
    // cache: false: these jobs must really run (a repeated seed-fixed graph would be served from the output cache).
    const job = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, webhook, cache: false } })).json;
    const g = await runner.lease(5);
    expect(g?.job.id).toBe(job.id);
    // As a runner does once ComfyUI has the prompt: the job's `started` (job.started) comes from this report.
    await runner.event(g!.lease.id, { type: "started", prompt_id: "p1" });
    if (outcome === "succeeded") {
      const up = await runner.upload(g!.lease.id, PNG);
      await runner.event(g!.lease.id, { type: "succeeded", outputs: [up.ref] });
    } else {
      await runner.event(g!.lease.id, {
        type: "failed",
        error: { code: "execution_error", message: "boom", node_id: "2" },
      });
    }
    return job.id as string;
  }

  it("signs every event (started and terminal by default) so standardwebhooks verifies it", async () => {
    const t = await tenantWithKey(stack);
    const jobId = await runJob(t.key, { url: receiver.url });
    const got = await receiver.waitFor(
      (r) => r.some((x) => x.json.type === "job.succeeded") && r.some((x) => x.json.type === "job.started"),
    );
    for (const r of got) {
      expect(verify(t.webhook_secret, r)).toEqual(JSON.parse(r.body));
      expect(r.headers["webhook-id"]).toMatch(/^evt_/);
      expect(r.json.data.id).toBe(jobId);
    }
    const succeeded = got.find((x) => x.json.type === "job.succeeded")!;
    const started = got.find((x) => x.json.type === "job.started")!;
    expect(succeeded.json.sequence).toBeGreaterThan(started.json.sequence);
    expect(succeeded.json.data.status).toBe("succeeded");
    // The output URL in the payload is signed and works.
    const out = await fetch(succeeded.json.data.outputs[0].url);
    expect(new Uint8Array(await out.arrayBuffer())).toEqual(PNG);
    // A wrong secret does not verify.
    expect(() => verify(`whsec_${Buffer.from("x".repeat(32)).toString("base64")}`, succeeded)).toThrow();
    // Delivery log.
    const log = await api(stack, t.key)(`/v1/jobs/${jobId}/webhook-deliveries`);
    await expect
      .poll(
        async () =>
          (await api(stack, t.key)(`/v1/jobs/${jobId}/webhook-deliveries`)).json.data.map(
            (d: { status: string }) => d.status,
          ),
        { timeout: 5000 },
      )
      .toEqual(["delivered", "delivered"]);
    expect(log.status).toBe(200);
  });

  it("retries while the receiver is down; every event arrives with a stable webhook-id", async () => {
    const t = await tenantWithKey(stack);
    let failures = 0;
    receiver.respond = () => (failures++ < 4 ? 503 : 200);
    const jobId = await runJob(t.key, { url: receiver.url });
    const got = await receiver.waitFor((r) =>
      ["job.started", "job.succeeded"].every((type) => r.some((x) => x.json.type === type && x.answeredWith === 200)),
    );
    const byId = new Map<string, Set<string>>();
    for (const r of got) {
      expect(verify(t.webhook_secret, r)).toBeTruthy();
      const set = byId.get(r.headers["webhook-id"]!) ?? new Set();
      set.add(r.json.type);
      byId.set(r.headers["webhook-id"]!, set);
    }
    for (const types of byId.values()) expect(types.size).toBe(1); // one id per event, across retries
    expect(got.filter((r) => r.answeredWith === 503).length).toBe(4);
    const deliveries = (await api(stack, t.key)(`/v1/jobs/${jobId}/webhook-deliveries`)).json.data as Array<{
      attempts: number;
      status: string;
    }>;
    expect(deliveries.reduce((n, d) => n + d.attempts, 0)).toBe(got.length);
  });

  it("stops deliveries to a URL that answered 410 for the job", async () => {
    const t = await tenantWithKey(stack);
    receiver.respond = (r) => (r.json.type === "job.started" ? 410 : 200);
    const jobId = await runJob(t.key, { url: receiver.url });
    const call = api(stack, t.key);
    await expect
      .poll(
        async () =>
          (await call(`/v1/jobs/${jobId}/webhook-deliveries`)).json.data.map(
            (d: { event: string; status: string }) => `${d.event}:${d.status}`,
          ),
        { timeout: 10_000 },
      )
      .toEqual(["job.started:gone", "job.succeeded:skipped"]);
    expect(receiver.received.map((r) => r.json.type)).toEqual(["job.started"]);
  });

  it("dead-letters after the last retry and marks the delivery failed; redelivery sends it again", async () => {
    const t = await tenantWithKey(stack);
    receiver.respond = 500;
    const jobId = await runJob(t.key, { url: receiver.url, events: ["job.failed"] }, "failed");
    const call = api(stack, t.key);
    await expect
      .poll(
        async () =>
          (await call(`/v1/jobs/${jobId}/webhook-deliveries`)).json.data.map(
            (d: { status: string; attempts: number }) => `${d.status}:${d.attempts}`,
          ),
        { timeout: 30_000, interval: 500 },
      )
      .toEqual(["failed:9"]);
    expect(receiver.received).toHaveLength(9);
    receiver.respond = 200;
    const re = await call(`/v1/jobs/${jobId}/webhook-deliveries/redeliver`, { method: "POST" });
    expect(re.status).toBe(202);
    expect(re.json.redelivered).toHaveLength(1);
    const got = await receiver.waitFor((r) => r.some((x) => x.answeredWith === 200));
    const ok = got.find((x) => x.answeredWith === 200)!;
    expect(ok.headers["webhook-id"]).toBe(got[0]!.headers["webhook-id"]);
    expect(ok.json.type).toBe("job.failed");
    expect(ok.json.data.error).toMatchObject({ code: "execution_error", node_id: "2" });
    await expect
      .poll(async () => (await call(`/v1/jobs/${jobId}/webhook-deliveries`)).json.data[0].status, { timeout: 5000 })
      .toBe("delivered");
  });

  it("signs with both secrets for 24 h after a rotation, then only with the new one", async () => {
    const t = await tenantWithKey(stack);
    const rotated = await stack.admin<{ webhook_secret: string }>(
      `/admin/v1/tenants/${t.id}/webhook-secret/rotate`,
      {},
    );
    await runJob(t.key, { url: receiver.url, events: ["job.succeeded"] });
    const [first] = await receiver.waitFor((r) => r.length >= 1);
    expect(first!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(verify(t.webhook_secret, first!)).toBeTruthy();
    expect(verify(rotated.webhook_secret, first!)).toBeTruthy();
    // The window ends: the previous secret no longer signs.
    const db = await stack.mf.getD1Database("DB", "comfy-edge-gateway");
    await db
      .prepare("UPDATE tenants SET webhook_secret_previous_expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1000, t.id)
      .run();
    receiver.received.length = 0;
    await runJob(t.key, { url: receiver.url, events: ["job.succeeded"] });
    const [second] = await receiver.waitFor((r) => r.length >= 1);
    expect(second!.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
    expect(verify(rotated.webhook_secret, second!)).toBeTruthy();
    expect(() => verify(t.webhook_secret, second!)).toThrow();
  });

  it("delivers another tenant's webhooks while one tenant's receiver never answers", async () => {
    const hanging = await startReceiver();
    hanging.respond = "hang";
    try {
      const [a, b] = [await tenantWithKey(stack), await tenantWithKey(stack)];
      const jobA = await runJob(a.key, { url: hanging.url, events: ["job.succeeded"] });
      await hanging.waitFor((r) => r.length === 1); // A's POST is in flight
      const jobB = await runJob(b.key, { url: receiver.url, events: ["job.succeeded"] });
      await receiver.waitFor((r) => r.some((x) => x.json.data.id === jobB));
      // B got its webhook while A's first attempt is still waiting for an answer.
      expect(hanging.received.map((r) => r.open)).toEqual([true]);
      const logA = (await api(stack, a.key)(`/v1/jobs/${jobA}/webhook-deliveries`)).json.data;
      expect(logA.map((d: { status: string; attempts: number }) => `${d.status}:${d.attempts}`)).toEqual(["pending:0"]);
      await expect
        .poll(async () => (await api(stack, b.key)(`/v1/jobs/${jobB}/webhook-deliveries`)).json.data[0]?.status)
        .toBe("delivered");
    } finally {
      await hanging.close();
    }
  });

  it("refuses an unsafe target at delivery too (tenant allowlist changed after submit)", async () => {
    const t = await tenantWithKey(stack, { webhook_host_allowlist: ["127.0.0.1"] });
    const call = api(stack, t.key);
    expect(
      (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, webhook: { url: "https://evil.example.com/h" } } }))
        .json.error.code,
    ).toBe("url_not_allowed");
    const job = (
      await call("/v1/jobs", {
        body: { workflow: TRIVIAL_WORKFLOW, webhook: { url: receiver.url, events: ["job.started"] } },
      })
    ).json;
    await stack.admin(`/admin/v1/tenants/${t.id}`, { webhook_host_allowlist: ["hooks.example.com"] }, "PATCH");
    const g = await runner.lease(5);
    expect(g?.job.id).toBe(job.id);
    await runner.event(g!.lease.id, { type: "started", prompt_id: "p1" });
    await expect
      .poll(
        async () =>
          (await call(`/v1/jobs/${job.id}/webhook-deliveries`)).json.data.map(
            (d: { status: string; last_error: string }) => d.status,
          ),
        { timeout: 10_000 },
      )
      .toEqual(["failed"]);
    const [row] = (await call(`/v1/jobs/${job.id}/webhook-deliveries`)).json.data;
    expect(row.last_error).toMatch(/url_not_allowed/);
    expect(receiver.received).toHaveLength(0);
    await runner.event(g!.lease.id, { type: "canceled" });
  });
});
