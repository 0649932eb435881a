/**
 * Lost grants through PoolDO's public RPC on workerd, with real job Durable Objects: a long poll whose
 * caller is gone (its alive check says no, throws, or never answers) does not get the job; the job goes back
 * to queued at once, no attempt counted, and the pool does not count it running. A live caller gets it.
 */
import { env } from "cloudflare:test";
import type { DispatchMessage } from "@comfy-edge/shared/contract";
import { describe, expect, it } from "vitest";
import { jobInput } from "../../test/job-fixtures.ts";
import { callerAlive, type PollAlive } from "./lost-grant.ts";
import type { RunnerInfo } from "./pool-do.ts";

const RUNNER: RunnerInfo = { token_id: "tok_lost", runner_id: "r1", version: "test", comfyui_version: null, slots: 1 };
const TENANT = "ten_lost";

async function setup() {
  const pool = `lg-${crypto.randomUUID().slice(0, 8)}`;
  const id = env.JOBS.newUniqueId();
  const jobId = `job_${id.toString()}`;
  const input = jobInput(jobId, { tenant_id: TENANT, key_id: "key_lost", pool });
  expect((await env.JOBS.get(id).create(input)).status).toBe("created");
  const msg: DispatchMessage = {
    type: "dispatch",
    job_id: jobId,
    attempt: 1,
    tenant_id: TENANT,
    pool,
    max_running: null,
    inputs: [],
    image_allowlist: null,
  };
  return { pool, msg, stub: env.POOLS.get(env.POOLS.idFromName(pool)), job: env.JOBS.get(id) };
}

/** A long poll with `alive`, waiting in the pool when the job arrives; its answer's job id (or null). */
async function pollThenEnqueue(alive: PollAlive) {
  const s = await setup();
  const waiting = s.stub.lease(s.pool, RUNNER, 60_000, alive).then((g: unknown) => {
    return typeof g === "object" && g !== null ? Reflect.get(g, "job_id") : g;
  });
  await expect.poll(async () => (await s.stub.stats()).runners).toBe(1);
  expect(await s.stub.enqueue(s.msg)).toBe("queued");
  return { ...s, answer: await waiting };
}

describe("lost grants", () => {
  it("gives the job back when the poll's caller hung up (its check says so)", async () => {
    const s = await pollThenEnqueue(() => false);
    expect(s.answer).toBeNull();
    const view = await s.job.get(TENANT);
    expect(view?.status).toBe("queued");
    // Re-dispatched as attempt 2 (the given-back attempt 1 does not count against the job's retries).
    expect(view?.attempt).toBe(2);
    expect(await s.stub.stats()).toMatchObject({ queued: 0, running: 0 });
  });

  it("gives the job back when the poll's handler is gone (the check throws)", async () => {
    const s = await pollThenEnqueue(() => {
      throw new Error("handler canceled");
    });
    expect(s.answer).toBeNull();
    expect((await s.job.get(TENANT))?.status).toBe("queued");
  });

  it("grants to a poll whose caller is there", async () => {
    const s = await pollThenEnqueue(() => true);
    expect(s.answer).toBe(s.msg.job_id);
    expect((await s.job.get(TENANT))?.status).toBe("running");
    expect(await s.stub.stats()).toMatchObject({ running: 1 });
  });

  it("takes a check that never answers for a gone caller", async () => {
    expect(await callerAlive(() => new Promise<boolean>(() => {}), 10)).toBe(false);
    expect(await callerAlive(async () => true, 1000)).toBe(true);
    expect(await callerAlive(undefined)).toBe(true);
  });
});
