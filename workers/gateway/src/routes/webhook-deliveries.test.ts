/** Redelivery sends only what needs it and is limited per job (issue 11.9). */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createKey, createPool, createTenant, expectError, json } from "../../test/helpers.ts";
import { REDELIVER_INTERVAL_S } from "./webhook-deliveries.ts";

const WORKFLOW = {
  "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "x" } },
};

async function jobWithDeliveries(statuses: string[]) {
  expect([201, 409]).toContain((await createPool("redeliver")).status);
  const tenant = await createTenant({ default_pool: "redeliver" });
  const { key } = await createKey(tenant.id);
  const job = await json<{ id: string }>(await call("/v1/jobs", { token: key, body: { workflow: WORKFLOW } }));
  const ids = statuses.map((_, i) => `evt_${job.id.slice(4)}_${i + 1}`);
  await env.DB.batch(
    statuses.map((status, i) =>
      env.DB.prepare(
        `INSERT INTO webhook_deliveries (id, job_id, tenant_id, event, sequence, url, status, attempts, payload, created_at, updated_at)
         VALUES (?, ?, ?, 'job.started', ?, 'https://hooks.example.com/h', ?, 1, ?, 1, 1)`,
      ).bind(ids[i], job.id, tenant.id, i + 1, status, JSON.stringify({ event_id: ids[i] })),
    ),
  );
  const redeliver = (body?: unknown) =>
    call(`/v1/jobs/${job.id}/webhook-deliveries/redeliver`, { token: key, method: "POST", body });
  const statusOf = async () =>
    (
      await env.DB.prepare("SELECT status FROM webhook_deliveries WHERE job_id = ? ORDER BY sequence")
        .bind(job.id)
        .all<{ status: string }>()
    ).results.map((r) => r.status);
  return { job, ids, redeliver, statusOf };
}

describe("POST /v1/jobs/:id/webhook-deliveries/redeliver", () => {
  it("without a body sends only the events whose delivery failed, then is limited per job", async () => {
    const { job, ids, redeliver, statusOf } = await jobWithDeliveries(["delivered", "failed", "pending", "gone"]);
    const first = await redeliver();
    expect(first.status).toBe(202);
    expect(await json(first)).toEqual({ redelivered: [ids[1], ids[3]] });
    expect(await statusOf()).toEqual(["delivered", "pending", "pending", "pending"]);

    await env.DB.prepare("UPDATE webhook_deliveries SET status = 'failed' WHERE job_id = ?").bind(job.id).run();
    const again = await redeliver({ event_ids: [ids[0]] });
    const err = await expectError(again, 429, "rate_limited");
    expect(again.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(Number(again.headers.get("retry-after"))).toBeLessThanOrEqual(REDELIVER_INTERVAL_S);
    expect(err.error.message).toContain(`less than ${REDELIVER_INTERVAL_S} s ago`);
    expect(await statusOf()).toEqual(["failed", "failed", "failed", "failed"]); // nothing written by the refusal

    // Once the interval is over, one event can be asked for by id, whatever its state.
    await env.DB.prepare("UPDATE webhook_redeliveries SET last_at = last_at - ? WHERE job_id = ?")
      .bind(REDELIVER_INTERVAL_S * 1000, job.id)
      .run();
    await env.DB.prepare("UPDATE webhook_deliveries SET status = 'delivered' WHERE id = ?").bind(ids[0]).run();
    const one = await redeliver({ event_ids: [ids[0]] });
    expect(one.status).toBe(202);
    expect(await json(one)).toEqual({ redelivered: [ids[0]] });
  });

  it("answers 202 with nothing to send without using the job's allowance; unknown ids are 422", async () => {
    const { ids, redeliver } = await jobWithDeliveries(["delivered", "failed"]);
    await expectError(await redeliver({ event_ids: ["evt_nope"] }), 422, "unknown_event");
    const none = await jobWithDeliveries(["delivered"]);
    expect(await json(await none.redeliver())).toEqual({ redelivered: [] });
    expect(await json(await none.redeliver())).toEqual({ redelivered: [] });
    expect(await json(await redeliver())).toEqual({ redelivered: [ids[1]] });
  });
});
