/**
 * The "webhooks" queue handler on workerd with the real local D1 and job Durable Objects; receivers are
 * doubles (a fetch answering per host). Batches go through createMessageBatch / getQueueResult.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import type { WebhookMessage } from "@comfy-edge/shared/contract";
import { describe, expect, it } from "vitest";
import { ReceiverDouble } from "../test/receiver-double.ts";
import { DEFAULT_RETRY_DELAYS_S } from "./config.ts";
import { DEFAULT_ENDPOINT_LIMITS, EndpointHealth } from "./delivery/endpoints.ts";
import { createQueueHandler } from "./index.ts";

const consumerEnv = env as unknown as ConsumerEnv;
let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter++).toString(36)}`;

async function tenant(): Promise<string> {
  const id = `ten_wh${unique()}`;
  await env.DB.prepare("INSERT INTO tenants (id, name, webhook_secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
    .bind(id, id, `whsec_${btoa("0123456789abcdef0123456789abcdef")}`, Date.now(), Date.now())
    .run();
  return id;
}

function event(tenantId: string, url: string, extra: Partial<WebhookMessage> = {}): WebhookMessage {
  const jobId = `job_${env.JOBS.newUniqueId().toString()}`;
  return {
    event_id: `evt_${unique()}`,
    type: "job.succeeded",
    sequence: 3,
    at: Date.now(),
    job_id: jobId,
    tenant_id: tenantId,
    url,
    origin: "http://127.0.0.1:8787",
    job: {
      id: jobId,
      status: "succeeded",
      created_at: Date.now() - 1000,
      started_at: Date.now() - 500,
      completed_at: Date.now(),
      pool: "local",
      attempt: 1,
      progress: null,
      outputs: [],
      error: null,
      metadata: {},
      stats: { queue_ms: 500, run_ms: 500, upload_ms: 0, total_ms: 1000 },
      seq: 3,
    },
    ...extra,
  };
}

interface Row {
  status: string;
  attempts: number;
  next_retry_at: number | null;
  last_error: string | null;
  updated_at: number;
}

function row(eventId: string): Promise<Row | null> {
  return env.DB.prepare(
    "SELECT status, attempts, next_retry_at, last_error, updated_at FROM webhook_deliveries WHERE id = ?",
  )
    .bind(eventId)
    .first<Row>();
}

/** Runs one batch through the real queue handler; `settle` also waits for attempts still in the background. */
async function runBatch(
  receiver: ReceiverDouble,
  endpoints: EndpointHealth,
  messages: Array<{ body: WebhookMessage; attempts?: number }>,
) {
  const handler = createQueueHandler({ endpoints, answerWaitMs: 50, fetchImpl: receiver.fetch });
  const batch = createMessageBatch(
    "webhooks",
    messages.map((m) => ({
      id: `msg-${m.body.event_id}`,
      timestamp: new Date(),
      body: m.body,
      attempts: m.attempts ?? 1,
    })),
  );
  const ctx = createExecutionContext();
  await handler.queue(batch, consumerEnv, ctx);
  return { settle: () => getQueueResult(batch, ctx) };
}

const A = "https://hooks-a.example.com/h";
const B = "https://hooks-b.example.com/h";

describe("webhook deliveries across tenants", () => {
  it("delivers tenant B's events while tenant A's endpoint hangs, without waiting for A's answers", async () => {
    const receiver = new ReceiverDouble();
    receiver.set("hooks-a.example.com", { kind: "hang" });
    const endpoints = new EndpointHealth();
    const [ta, tb] = [await tenant(), await tenant()];
    const slow = [event(ta, A), event(ta, A), event(ta, A)];
    const fast = event(tb, B);
    const { settle } = await runBatch(
      receiver,
      endpoints,
      [...slow, fast].map((body) => ({ body })),
    );
    // The batch is answered while A's POSTs are still open; B's event is already delivered.
    expect(receiver.to("hooks-a.example.com").map((r) => r.open)).toEqual([true, true, true]);
    expect((await row(fast.event_id))?.status).toBe("delivered");
    for (const e of slow) expect((await row(e.event_id))?.status).toBe("pending"); // visible from the start
    // A's receiver dies: the background attempts end and are recorded; the batch retried A, acked B.
    receiver.failHanging("hooks-a.example.com");
    const result = await settle();
    expect(result.explicitAcks).toEqual([`msg-${fast.event_id}`]);
    expect(result.retryMessages.map((r) => r.msgId).sort()).toEqual(slow.map((e) => `msg-${e.event_id}`).sort());
    for (const e of slow) {
      const logged = await row(e.event_id);
      expect(logged).toMatchObject({ status: "pending", attempts: 1 });
      expect(logged?.last_error).toMatch(/fetch_failed/);
      // The retry comes after A's own 10 s timeout would have ended, so one POST at a time per event.
      expect(logged?.next_retry_at).toBeGreaterThanOrEqual(Date.now() + 5_000);
    }
  });

  it("stops sending to an endpoint that failed 3 times in a row (fails fast, retries after the pause)", async () => {
    const receiver = new ReceiverDouble();
    receiver.set("hooks-a.example.com", { kind: "throw", message: "Network connection lost." });
    const endpoints = new EndpointHealth();
    const [ta, tb] = [await tenant(), await tenant()];
    const first = [event(ta, A), event(ta, A), event(ta, A)];
    await (
      await runBatch(
        receiver,
        endpoints,
        first.map((body) => ({ body })),
      )
    ).settle();
    expect(receiver.to("hooks-a.example.com")).toHaveLength(3);
    expect(endpoints.isOpen(A)).toBe(true);

    const later = event(ta, A);
    const other = event(tb, B);
    const result = await (await runBatch(receiver, endpoints, [{ body: later }, { body: other }])).settle();
    expect(receiver.to("hooks-a.example.com")).toHaveLength(3); // not sent
    expect(receiver.to("hooks-b.example.com")).toHaveLength(1);
    expect(result.explicitAcks).toEqual([`msg-${other.event_id}`]);
    expect(result.retryMessages.map((r) => r.msgId)).toEqual([`msg-${later.event_id}`]);
    const logged = await row(later.event_id);
    expect(logged).toMatchObject({ status: "pending", attempts: 1 });
    expect(logged?.last_error).toMatch(/not sent: https:\/\/hooks-a\.example\.com failed 3 times in a row/);
    // Not before the pause is over.
    expect(logged?.next_retry_at).toBeGreaterThanOrEqual(Date.now() + DEFAULT_ENDPOINT_LIMITS.baseCooldownMs - 2_000);
  });

  it("sends at most maxInFlight POSTs at a time to an endpoint that has been slow", async () => {
    const receiver = new ReceiverDouble();
    receiver.set("hooks-a.example.com", { kind: "hang" });
    const endpoints = new EndpointHealth({ ...DEFAULT_ENDPOINT_LIMITS, maxInFlight: 2 });
    const ta = await tenant();
    const first = await runBatch(receiver, endpoints, [{ body: event(ta, A) }]); // outlives the answer wait
    const events = [event(ta, A), event(ta, A), event(ta, A)];
    const second = await runBatch(
      receiver,
      endpoints,
      events.map((body) => ({ body })),
    );
    expect(receiver.to("hooks-a.example.com")).toHaveLength(2);
    receiver.failHanging("hooks-a.example.com");
    await first.settle();
    expect((await second.settle()).retryMessages).toHaveLength(3);
    const errors = await Promise.all(events.map(async (e) => (await row(e.event_id))?.last_error ?? ""));
    expect(errors.filter((e) => e.includes("still waiting for an answer"))).toHaveLength(2);
  });
});

describe("webhook deliveries and the log", () => {
  it("counts a 2xx with a body over 64 KiB as delivered and does not read the body", async () => {
    const receiver = new ReceiverDouble();
    let pulled = 0;
    let cancelled = false;
    const big = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new Uint8Array(16 * 1024));
        if (pulled > 10) controller.close();
      },
      cancel() {
        cancelled = true;
      },
    });
    receiver.set("hooks-a.example.com", { kind: "answer", status: 200, body: big });
    const e = event(await tenant(), A);
    const result = await (await runBatch(receiver, new EndpointHealth(), [{ body: e }])).settle();
    expect(result.explicitAcks).toEqual([`msg-${e.event_id}`]);
    expect(await row(e.event_id)).toMatchObject({ status: "delivered", attempts: 1 });
    expect(cancelled).toBe(true);
    expect(pulled).toBeLessThan(5);
  });

  it("re-sent after a restart with a stale next_retry_at: delivered at once, continuing the log's attempts", async () => {
    const receiver = new ReceiverDouble();
    const e = event(await tenant(), A);
    await env.DB.prepare(
      `INSERT INTO webhook_deliveries (id, job_id, tenant_id, event, sequence, url, status, attempts, next_retry_at,
         last_error, payload, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 3, ?, 'HTTP 503', ?, ?, ?)`,
    )
      .bind(e.event_id, e.job_id, e.tenant_id, e.type, e.sequence, e.url, Date.now() - 3_600_000, "{}", 0, 0)
      .run();
    receiver.set("hooks-a.example.com", { kind: "answer", status: 503 });
    const failed = await (await runBatch(receiver, new EndpointHealth(), [{ body: e }])).settle();
    expect(failed.retryMessages).toHaveLength(1);
    // Attempt 4 of the schedule (not attempt 1 again): its delay, in a true next_retry_at.
    const pending = await row(e.event_id);
    expect(pending).toMatchObject({ status: "pending", attempts: 4 });
    const delayS = ((pending?.next_retry_at ?? 0) - Date.now()) / 1000;
    expect(delayS).toBeGreaterThanOrEqual(DEFAULT_RETRY_DELAYS_S[3]! * 0.8 - 5);
    expect(delayS).toBeLessThanOrEqual(DEFAULT_RETRY_DELAYS_S[3]! * 1.2 + 1);

    receiver.set("hooks-a.example.com", { kind: "answer", status: 200 });
    const ok = await (await runBatch(receiver, new EndpointHealth(), [{ body: e }])).settle();
    expect(ok.explicitAcks).toHaveLength(1);
    expect(await row(e.event_id)).toMatchObject({ status: "delivered", attempts: 5, next_retry_at: null });
  });

  it("never POSTs an event the log shows delivered again, unless a redelivery asked for it after", async () => {
    const receiver = new ReceiverDouble();
    const e = event(await tenant(), A);
    await (await runBatch(receiver, new EndpointHealth(), [{ body: e }])).settle();
    expect(receiver.requests).toHaveLength(1);
    const again = await (await runBatch(receiver, new EndpointHealth(), [{ body: e }])).settle();
    expect(again.explicitAcks).toHaveLength(1);
    expect(receiver.requests).toHaveLength(1);
    const delivered = (await row(e.event_id))!;
    const stale = { ...e, redelivery: true, redelivery_at: delivered.updated_at - 1 };
    await (await runBatch(receiver, new EndpointHealth(), [{ body: stale }])).settle();
    expect(receiver.requests).toHaveLength(1);
    const asked = { ...e, redelivery: true, redelivery_at: delivered.updated_at + 1 };
    await (await runBatch(receiver, new EndpointHealth(), [{ body: asked }])).settle();
    expect(receiver.requests).toHaveLength(2);
  });

  it("says which host could not be resolved (real workerd fetch, a name that never resolves)", async () => {
    const e = event(await tenant(), "https://no-such-host.invalid/hook");
    const handler = createQueueHandler({ endpoints: new EndpointHealth(), answerWaitMs: 5_000 });
    const batch = createMessageBatch("webhooks", [{ id: "m1", timestamp: new Date(), body: e, attempts: 1 }]);
    const ctx = createExecutionContext();
    await handler.queue(batch, consumerEnv, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((r) => r.msgId)).toEqual(["m1"]);
    const logged = await row(e.event_id);
    expect(logged?.last_error).toBe("fetch_failed: could not resolve host no-such-host.invalid");
  });
});
