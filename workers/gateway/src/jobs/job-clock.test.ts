/**
 * The job object on a controlled clock (its `now` is moved by the test; the alarm is run on demand):
 * webhook events re-sent after a lost queue message, the run limit, and the cancel long poll.
 */
import { describe, expect, it } from "vitest";
import { type JobInternals, jobInput, newJobObject } from "../../test/job-fixtures.ts";
import type { CreateJobInput } from "./state.ts";

const T0 = Date.UTC(2030, 0, 1);
const S = 1000;

/** The job's create input, for tenant ten_clock (queued for up to a week). */
function input(id: string, extra: Partial<CreateJobInput> = {}): CreateJobInput {
  return jobInput(id, { tenant_id: "ten_clock", key_id: "key_clock", queue_timeout_s: 7 * 24 * 3600, ...extra });
}

/** A job object whose clock the test sets; `at(ms)` moves it. */
const clocked = () => newJobObject({ clock: T0 });

function webhookRow(internals: JobInternals) {
  return internals.ctx.storage.sql
    .exec<{ attempts: number; next_at: number; event_id: string }>(
      "SELECT attempts, next_at, json_extract(payload, '$.event_id') AS event_id FROM outbox WHERE kind = 'webhook'",
    )
    .toArray();
}

describe("webhook events owed by a job", () => {
  it("are re-sent after a short interval when the queue message was lost, and not before a pending retry", async () => {
    const job = clocked();
    const webhook = { url: "https://hooks.example.com/x", events: ["job.canceled" as const] };
    await job.inside(async (instance, internals) => {
      await instance.create(input(job.jobId, { webhook }));
      await instance.cancel("ten_clock");
      await internals.flush();
      // Sent once to the real queue "webhooks"; no consumer reports on it here: the message is lost.
      const [row] = webhookRow(internals);
      expect(row).toMatchObject({ attempts: 1, next_at: T0 + 30 * S });
      expect(await internals.ctx.storage.getAlarm()).toBe(T0 + 30 * S);
    });
    job.at(T0 + 29 * S);
    await job.alarm();
    await job.inside(async (_, internals) => expect(webhookRow(internals)[0]?.attempts).toBe(1));
    job.at(T0 + 30 * S);
    await job.alarm();
    const eventId = await job.inside(async (_, internals) => {
      const [row] = webhookRow(internals);
      expect(row?.attempts).toBe(2); // re-sent
      return row!.event_id;
    });

    // The consumer now holds the event and will try again in 10 minutes: no re-send before then.
    await job.inside(async (instance, internals) => {
      await instance.webhookPending(eventId, T0 + 630 * S);
      expect(webhookRow(internals)[0]).toMatchObject({ attempts: 0, next_at: T0 + 660 * S });
      expect(await internals.ctx.storage.getAlarm()).toBe(T0 + 660 * S);
    });
    job.at(T0 + 600 * S);
    await job.alarm();
    await job.inside(async (_, internals) => expect(webhookRow(internals)[0]?.attempts).toBe(0));
    // Nothing was heard of it by its retry time plus the grace: re-sent, then short intervals again.
    job.at(T0 + 660 * S);
    await job.alarm();
    await job.inside(async (instance, internals) => {
      expect(webhookRow(internals)[0]).toMatchObject({ attempts: 1, next_at: T0 + 690 * S });
      await instance.ackWebhook(eventId);
      expect(webhookRow(internals)).toEqual([]);
    });
  });

  it("ignore a pending report for an event the job no longer owes", async () => {
    const job = clocked();
    await job.inside(async (instance, internals) => {
      await instance.create(input(job.jobId));
      await instance.webhookPending("evt_unknown_1", T0 + 60 * S);
      expect(webhookRow(internals)).toEqual([]);
    });
  });
});

describe("run limit", () => {
  async function running(extra: Partial<CreateJobInput> = {}) {
    const job = clocked();
    await job.inside(async (instance) => {
      await instance.create(input(job.jobId, extra));
      expect(await instance.grantLease(1, "r1", "local")).not.toBeNull();
    });
    return job;
  }

  it("fails a job that runs past the deployment's MAX_RUN_S even while its runner heartbeats", async () => {
    const job = await running();
    for (const t of [1000, 2000, 3000, 3599]) {
      job.at(T0 + t * S);
      await job.inside(async (instance) => expect((await instance.heartbeat(1, "local")).ok).toBe(true));
      await job.alarm();
      expect((await job.api.get("ten_clock"))?.status).toBe("running");
    }
    job.at(T0 + 3600 * S);
    await job.alarm();
    const view = await job.api.get("ten_clock");
    expect(view?.status).toBe("failed");
    expect(view?.error).toMatchObject({ code: "max_run_time_exceeded", details: { max_run_s: 3600 } });
    expect(view?.error?.message).toContain("the deployment's MAX_RUN_S");
    await job.inside(async (instance) => expect((await instance.heartbeat(1, "local")).ok).toBe(false));
  });

  it("applies the tenant's lower max_run_s, and a job's own timeout_s when that comes first", async () => {
    const tenant = await running({ max_run_s: 120 });
    tenant.at(T0 + 100 * S);
    await tenant.inside(async (instance) => void (await instance.heartbeat(1, "local")));
    tenant.at(T0 + 120 * S);
    await tenant.alarm();
    const failed = await tenant.api.get("ten_clock");
    expect(failed?.error).toMatchObject({ code: "max_run_time_exceeded", details: { max_run_s: 120 } });
    expect(failed?.error?.message).toContain("this tenant's limits.max_run_s");

    const own = await running({ max_run_s: 3000, timeout_s: 10 });
    own.at(T0 + 50 * S);
    await own.inside(async (instance) => void (await instance.heartbeat(1, "local")));
    own.at(T0 + 70 * S); // timeout_s + the runner's 60 s grace to report it itself
    await own.alarm();
    expect((await own.api.get("ten_clock"))?.error?.code).toBe("job_timeout");
  });
});

describe("cancel long poll", () => {
  it("answers as soon as the client cancels, and lease_lost once the attempt is over", async () => {
    const job = clocked();
    await job.inside(async (instance) => {
      await instance.create(input(job.jobId));
      await instance.grantLease(1, "r1", "local");
      let settled = false;
      const poll = instance.waitCancel(1, "local", 60_000).then((r) => {
        settled = true;
        return r;
      });
      await instance.heartbeat(1, "local"); // other commits do not wake it
      await Promise.resolve();
      expect(settled).toBe(false);
      const canceled = await instance.cancel("ten_clock");
      expect(canceled.job?.cancel_requested).toBe(true);
      expect(canceled.job?.status).toBe("running");
      expect(await poll).toEqual({ ok: true, cancel: true });
      // Asked again: at once.
      expect(await instance.waitCancel(1, "local", 60_000)).toEqual({ ok: true, cancel: true });
      await instance.runnerEvent(1, "local", { type: "canceled" });
      expect((await instance.get("ten_clock"))?.cancel_requested).toBe(false);
      expect(await instance.waitCancel(1, "local", 60_000)).toMatchObject({ ok: false, code: "lease_lost" });
    });
  });
});
