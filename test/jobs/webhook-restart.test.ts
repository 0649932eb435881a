/**
 * Webhook events owed when the stack dies: local queues live in memory, so the messages are lost; the job
 * objects' outboxes and alarms survive, and every owed event goes out soon after the restart (the consumer
 * reported when it would retry; the job re-sends 30 s past that time), with the defaults of wrangler.toml.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { api, ensurePool, TRIVIAL_WORKFLOW, tenantWithKey } from "../harness/api.ts";
import { buildWorkers } from "../harness/build.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { type Receiver, startReceiver } from "../webhooks/receiver.ts";

const JOBS = 5;

describe("webhooks across a crash", () => {
  const persistDir = mkdtempSync(join(tmpdir(), "comfy-edge-restart-"));
  let stack: Stack | undefined;
  let receiver: Receiver | undefined;
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
    rmSync(persistDir, { recursive: true, force: true });
  });

  it("delivers every owed event after the stack is killed and restarted", async () => {
    const built = await buildWorkers();
    const secrets = {
      adminToken: `adm_${randomBytes(8).toString("hex")}`,
      signingSecret: randomBytes(32).toString("hex"),
    };
    // The consumer retries after 5 s; everything else is wrangler.toml's default (WEBHOOK_RESEND_S = 30).
    const options = {
      built,
      secrets,
      persistDir,
      vars: { ALLOW_PRIVATE_URLS: "true", WEBHOOK_RETRY_DELAYS_S: "5,5,5,5,5,5,5,5" },
    };
    receiver = await startReceiver();
    receiver.respond = 503;
    stack = await startStack(options);
    await ensurePool(stack, "restart");
    const t = await tenantWithKey(stack);
    const call = api(stack, t.key);
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const job = await call("/v1/jobs", {
        body: { workflow: TRIVIAL_WORKFLOW, pool: "restart", webhook: { url: receiver.url, events: ["job.canceled"] } },
      });
      ids.push(job.json.id);
      expect((await call(`/v1/jobs/${job.json.id}/cancel`, { method: "POST" })).status).toBe(202);
    }
    // Each event was tried once (the receiver is down) and waits in the queue for its retry...
    await receiver.waitFor((r) => new Set(r.map((x) => x.headers["webhook-id"])).size === JOBS);
    // ...when the whole stack dies: the queue and its pending retries are gone.
    await stack.close();
    stack = undefined;
    receiver.respond = 200;
    stack = await startStack(options);
    const delivered = (r: Receiver["received"]) =>
      new Set(r.filter((x) => x.answeredWith === 200).map((x) => x.headers["webhook-id"])).size;
    await receiver.waitFor((r) => delivered(r) === JOBS, 90_000);
    const restarted = api(stack, t.key);
    for (const id of ids) {
      const log = (await restarted(`/v1/jobs/${id}/webhook-deliveries`)).json.data as Array<{ status: string }>;
      expect(log.map((d) => d.status)).toEqual(["delivered"]);
    }
  }, 180_000);
});
