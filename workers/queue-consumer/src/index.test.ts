/**
 * The consumer's ack/retry mapping: each message of a batch is acked or retried on its own, through the real
 * MessageBatch / ExecutionContext of the test runtime (createMessageBatch / getQueueResult) and the real
 * Durable Objects; the pure parts (settle, failedMessageDelayS) directly.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { QUEUE_MAX_DELAY_S } from "@comfy-edge/shared/backoff";
import { describe, expect, it } from "vitest";
import { createQueueHandler, failedMessageDelayS, settle } from "./index.ts";

const consumerEnv = env as unknown as ConsumerEnv;

async function run(queue: string, bodies: unknown[], attempts: number, vars: Partial<ConsumerEnv> = {}) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), body, attempts })),
  );
  const ctx = createExecutionContext();
  await createQueueHandler().queue(batch, { ...consumerEnv, ...vars }, ctx);
  return getQueueResult(batch, ctx);
}

function dispatch(pool: string) {
  return {
    type: "dispatch",
    job_id: `job_${env.JOBS.newUniqueId().toString()}`,
    attempt: 1,
    tenant_id: "ten_idx",
    pool,
    max_running: null,
    inputs: [],
    image_allowlist: null,
  };
}

describe("queue handler: ack/retry per message", () => {
  it("maps outcomes: ack -> ack, retry -> retry with its delay", () => {
    expect(settle({ action: "ack", note: "x" })).toEqual({ ack: true });
    expect(settle({ action: "retry", delaySeconds: 7, reason: "r" })).toEqual({ ack: false, delaySeconds: 7 });
  });

  it("a message whose handler throws is retried after 2, 4, 8 ... s, at most 60 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(failedMessageDelayS)).toEqual([2, 4, 8, 16, 32, 60, 60]);
    expect(failedMessageDelayS(1000)).toBeLessThanOrEqual(QUEUE_MAX_DELAY_S);
  });

  it("acks a routed job and a malformed one, each on its own; never acks or retries the whole batch", async () => {
    const result = await run("jobs", [dispatch("idx-pool"), { type: "nope" }], 1);
    expect(result.ackAll).toBe(false);
    expect(result.retryBatch.retry).toBe(false);
    expect([...result.explicitAcks].sort()).toEqual(["m0", "m1"]);
    expect(result.retryMessages).toEqual([]);
  });

  it("retries only the message whose handler threw (a misconfigured consumer), ", async () => {
    const result = await run("jobs", [dispatch("idx-pool"), { type: "nope" }], 3, { MAX_INPUT_BYTES: "lots" });
    expect(result.explicitAcks).toEqual(["m1"]);
    // (getQueueResult reports which messages were retried, not their delay: that is the pure test above.)
    expect(result.retryMessages).toEqual([{ msgId: "m0" }]);
  });

  it("acks messages of an unknown queue and malformed dead letters", async () => {
    expect((await run("elsewhere", [{}], 1)).explicitAcks).toEqual(["m0"]);
    expect((await run("jobs-dlq", [{ type: "nope" }], 1)).explicitAcks).toEqual(["m0"]);
    expect((await run("webhooks-dlq", ["x"], 1)).explicitAcks).toEqual(["m0"]);
  });
});
