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
  it("writes the dispatch with the state, sends it through the queue and re-sends it until a lease", async () => {
    const id = env.JOBS.newUniqueId();
    const jobId = `job_${id.toString()}`;
    const stub = env.JOBS.get(id);
    const dispatchRow = (sql: SqlStorage) =>
      sql
        .exec<{ attempts: number; next_at: number }>("SELECT attempts, next_at FROM outbox WHERE kind = 'dispatch'")
        .one();
    await runInDurableObject(stub, async (instance: JobDO) => {
      const internals = instance as unknown as Internals;
      expect((await instance.create(input(jobId))).status).toBe("created");
      await internals.flush();
      // Sent once through the real queue binding; kept, since only a lease settles it.
      expect(dispatchRow(internals.ctx.storage.sql).attempts).toBe(1);
      // As after a restart that lost the queued message: the row is due again.
      internals.ctx.storage.sql.exec("UPDATE outbox SET next_at = 0 WHERE kind = 'dispatch'");
    });
    const before = Date.now();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = Date.now();
    await runInDurableObject(stub, async (instance: JobDO) => {
      const row = dispatchRow((instance as unknown as Internals).ctx.storage.sql);
      expect(row.attempts).toBe(2);
      // The next re-send doubles: 30 s, then 60 s (DISPATCH_RESEND_S).
      expect(row.next_at).toBeGreaterThanOrEqual(before + 60_000);
      expect(row.next_at).toBeLessThanOrEqual(after + 60_000);
    });
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
