import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JobDO } from "./job-do.ts";
import type { CreateJobInput } from "./state.ts";

function input(id: string): CreateJobInput {
  return {
    id,
    tenant_id: "ten_test",
    key_id: "key_test",
    pool: "local",
    workflow: { "1": { class_type: "SaveImage", inputs: { filename_prefix: "x" } } },
    output: null,
    timeout_s: null,
    metadata: {},
    inputs: [],
    max_running: null,
    queue_timeout_s: 3600,
    image_allowlist: null,
    webhook: null,
    idempotency: null,
    origin: null,
    max_run_s: null,
    max_queued: null,
  };
}

interface Internals {
  env: Env;
  flush(): Promise<void>;
  ctx: DurableObjectState;
}

describe("job outbox", () => {
  it("re-sends the dispatch after a failure between the state write and the send", async () => {
    const id = env.JOBS.newUniqueId();
    const jobId = `job_${id.toString()}`;
    const stub = env.JOBS.get(id);
    const sent: unknown[] = [];
    await runInDurableObject(stub, async (instance: JobDO) => {
      const internals = instance as unknown as Internals;
      const realEnv = internals.env;
      // The queue is down when the job is created: the state and the outbox row are written together...
      internals.env = {
        ...realEnv,
        JOBS_QUEUE: { send: async () => Promise.reject(new Error("queue unavailable")) } as unknown as Queue,
      };
      const created = await instance.create(input(jobId));
      expect(created.status).toBe("created");
      await internals.flush();
      const row = internals.ctx.storage.sql
        .exec<{ kind: string; attempts: number }>("SELECT kind, attempts FROM outbox WHERE kind = 'dispatch'")
        .one();
      expect(row.attempts).toBe(1);
      expect(sent).toHaveLength(0);
      // ...then the queue comes back, time passes, and the alarm delivers what the outbox owes.
      internals.env = { ...realEnv, JOBS_QUEUE: { send: async (m: unknown) => void sent.push(m) } as unknown as Queue };
      internals.ctx.storage.sql.exec("UPDATE outbox SET next_at = 0");
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(sent).toEqual([expect.objectContaining({ type: "dispatch", job_id: jobId, attempt: 1 })]);
    // The index row was written by the same outbox.
    const row = await env.DB.prepare("SELECT status, seq FROM jobs_index WHERE id = ?").bind(jobId).first();
    expect(row).toEqual({ status: "queued", seq: 1 });
  });

  it("keeps the dispatch row until a lease is granted, and drops it then", async () => {
    const id = env.JOBS.newUniqueId();
    const jobId = `job_${id.toString()}`;
    const stub = env.JOBS.get(id);
    await runInDurableObject(stub, async (instance: JobDO) => {
      const internals = instance as unknown as Internals;
      await instance.create(input(jobId));
      await internals.flush();
      const count = () =>
        internals.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'dispatch'").one()
          .n;
      expect(count()).toBe(1);
      expect(await instance.grantLease(2, "r", "local")).toBeNull(); // wrong attempt
      expect(await instance.grantLease(1, "r", "other-pool")).toBeNull(); // wrong pool
      const grant = await instance.grantLease(1, "r", "local");
      expect(grant?.attempt).toBe(1);
      expect(count()).toBe(0);
      expect(await instance.grantLease(1, "r2", "local")).toBeNull(); // already leased
    });
  });
});

describe("stored state from an older deployment", () => {
  it("is upgraded with defaults for fields added since, so its alarm can still finish it", async () => {
    const { upgradeState } = await import("./job-do.ts");
    const old = { id: "job_x", status: "queued", attempt: 2, seq: 3 } as Parameters<typeof upgradeState>[0];
    const up = upgradeState(old);
    expect(up.upload_attempts).toEqual([1, 2]);
    expect(up.origin).toBeNull();
    expect(up.last_progress_webhook_at).toBeNull();
    expect(up.webhook).toBeNull();
    expect(up.seq).toBe(3);
  });
});
