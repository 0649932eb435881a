import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { jobInput, newJobObject } from "../../test/job-fixtures.ts";

describe("job outbox", () => {
  it("writes the dispatch with the state, sends it through the queue and re-sends it until a lease", async () => {
    const job = newJobObject();
    const jobId = job.jobId;
    const dispatchRow = (sql: SqlStorage) =>
      sql
        .exec<{ attempts: number; next_at: number }>("SELECT attempts, next_at FROM outbox WHERE kind = 'dispatch'")
        .one();
    await job.inside(async (instance, internals) => {
      expect((await instance.create(jobInput(jobId))).status).toBe("created");
      await internals.flush();
      // Sent once through the real queue binding; kept, since only a lease settles it.
      expect(dispatchRow(internals.ctx.storage.sql).attempts).toBe(1);
      // As after a restart that lost the queued message: the row is due again.
      internals.ctx.storage.sql.exec("UPDATE outbox SET next_at = 0 WHERE kind = 'dispatch'");
    });
    const before = Date.now();
    expect(await job.alarm()).toBe(true);
    const after = Date.now();
    await job.inside(async (_, internals) => {
      const row = dispatchRow(internals.ctx.storage.sql);
      expect(row.attempts).toBe(2);
      // The next re-send doubles: 30 s, then 60 s (DISPATCH_RESEND_S).
      expect(row.next_at).toBeGreaterThanOrEqual(before + 60_000);
      expect(row.next_at).toBeLessThanOrEqual(after + 60_000);
    });
    // The index row was written by the same outbox.
    const row = await env.DB.prepare("SELECT status, seq FROM jobs_index WHERE id = ?").bind(jobId).first();
    expect(row).toEqual({ status: "queued", seq: 1 });
  });

  it("drops a row it cannot read (another version's) unsent, and still sends the rows it wrote itself", async () => {
    const job = newJobObject();
    const bogus = JSON.stringify({ id: 42, tenant_id: "ten_other" }); // an index row of no known shape
    await job.inside(async (instance, internals) => {
      await instance.create(jobInput(job.jobId));
      await internals.flush();
      const sql = internals.ctx.storage.sql;
      sql.exec("INSERT INTO outbox (kind, payload, attempts, next_at) VALUES ('index', ?, 0, 0)", bogus);
      sql.exec("UPDATE outbox SET next_at = 0 WHERE kind = 'dispatch'");
    });
    expect(await job.alarm()).toBe(true);
    await job.inside(async (_, internals) => {
      const rows = internals.ctx.storage.sql
        .exec<{ kind: string; payload: string; attempts: number }>("SELECT kind, payload, attempts FROM outbox")
        .toArray();
      // The unreadable row is gone and was never sent; the job's own dispatch went out again.
      expect(rows.map((r) => r.payload)).not.toContain(bogus);
      expect(rows).toEqual([expect.objectContaining({ kind: "dispatch", attempts: 2 })]);
    });
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM jobs_index WHERE tenant_id = 'ten_other'").first()).toEqual({
      n: 0,
    });
  });

  it("keeps the dispatch row until a lease is granted, and drops it then", async () => {
    const job = newJobObject();
    await job.inside(async (instance, internals) => {
      await instance.create(jobInput(job.jobId));
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
