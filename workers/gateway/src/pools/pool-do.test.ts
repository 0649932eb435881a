/**
 * PoolDO through its public RPC, on workerd with the real job Durable Objects (they grant the leases):
 * idempotent enqueue, round-robin across tenants, max_running, long-poll leases, release and stats.
 */
import { env } from "cloudflare:test";
import type { DispatchMessage } from "@comfy-edge/shared/contract";
import { describe, expect, it } from "vitest";
import { jobInput } from "../../test/job-fixtures.ts";
import type { RunnerInfo } from "./pool-do.ts";

const RUNNER: RunnerInfo = {
  token_id: "tok_pool_test",
  runner_id: "r1",
  version: "test",
  comfyui_version: null,
  slots: 1,
};

function newPool() {
  const name = `pt-${crypto.randomUUID().slice(0, 8)}`;
  return { name, stub: env.POOLS.get(env.POOLS.idFromName(name)) };
}

/** A real job waiting for dispatch attempt 1 on `pool`. */
async function job(pool: string, tenant: string, maxRunning: number | null = null): Promise<DispatchMessage> {
  const id = env.JOBS.newUniqueId();
  const jobId = `job_${id.toString()}`;
  const input = jobInput(jobId, { tenant_id: tenant, key_id: "key_pool_test", pool, max_running: maxRunning });
  expect((await env.JOBS.get(id).create(input)).status).toBe("created");
  return {
    type: "dispatch",
    job_id: jobId,
    attempt: 1,
    tenant_id: tenant,
    pool,
    max_running: maxRunning,
    inputs: [],
    image_allowlist: null,
  };
}

async function leaseId(stub: ReturnType<typeof newPool>["stub"], pool: string, waitMs = 0) {
  // (workers-types' Rpc mapping turns the grant's unknown-typed fields into never: read it as plain data.)
  const grant: unknown = await stub.lease(pool, RUNNER, waitMs);
  return typeof grant === "object" && grant !== null ? Reflect.get(grant, "job_id") : grant;
}

describe("PoolDO", () => {
  it("enqueues idempotently by (job, attempt)", async () => {
    const { name, stub } = newPool();
    const msg = await job(name, "ten_a");
    expect(await stub.enqueue(msg)).toBe("queued");
    expect(await stub.enqueue(msg)).toBe("duplicate");
    expect(await stub.enqueue({ ...msg, attempt: 0 })).toBe("duplicate");
    expect(await stub.stats()).toMatchObject({ queued: 1, running: 0 });
  });

  it("serves tenants round-robin: one tenant's backlog does not starve another's job", async () => {
    const { name, stub } = newPool();
    const a = [await job(name, "ten_a"), await job(name, "ten_a"), await job(name, "ten_a")];
    const b = await job(name, "ten_b");
    for (const m of [...a, b]) await stub.enqueue(m);
    const order = [await leaseId(stub, name), await leaseId(stub, name), await leaseId(stub, name)];
    expect(order).toEqual([a[0]!.job_id, b.job_id, a[1]!.job_id]);
    expect(await stub.stats()).toMatchObject({ queued: 1, running: 3, runners: 1 });
  });

  it("takes never-served tenants by enqueue time, then the least recently served; a capped tenant is skipped", async () => {
    const { name, stub } = newPool();
    const a1 = await job(name, "ten_ra");
    const b1 = await job(name, "ten_rb");
    const a2 = await job(name, "ten_ra");
    const c1 = await job(name, "ten_rc", 1);
    const c2 = await job(name, "ten_rc", 1);
    const b2 = await job(name, "ten_rb");
    for (const m of [a1, b1, a2, c1, c2, b2]) await stub.enqueue(m);
    const order = [];
    for (let i = 0; i < 6; i++) order.push(await leaseId(stub, name));
    // c2 waits: its tenant is at max_running 1 with c1 running; nobody else is held back by it.
    expect(order).toEqual([a1.job_id, b1.job_id, c1.job_id, a2.job_id, b2.job_id, null]);
    await stub.release(c1.job_id, 1);
    expect(await leaseId(stub, name)).toBe(c2.job_id);
  });

  it("holds a tenant at max_running until a run is released", async () => {
    const { name, stub } = newPool();
    const [c1, c2] = [await job(name, "ten_c", 1), await job(name, "ten_c", 1)];
    await stub.enqueue(c1);
    await stub.enqueue(c2);
    expect(await leaseId(stub, name)).toBe(c1.job_id);
    expect(await leaseId(stub, name)).toBeNull();
    await stub.release(c1.job_id, 1);
    expect(await leaseId(stub, name)).toBe(c2.job_id);
  });

  it("drops a dispatch its job refuses and leases the next one", async () => {
    const { name, stub } = newPool();
    const ghost: DispatchMessage = { ...(await job(name, "ten_d")), attempt: 2 }; // the job waits for attempt 1
    const real = await job(name, "ten_d");
    await stub.enqueue(ghost);
    await stub.enqueue(real);
    expect(await leaseId(stub, name)).toBe(real.job_id);
    expect(await stub.stats()).toMatchObject({ queued: 0, running: 1 });
  });

  it("answers a waiting long-poll lease when a job arrives", async () => {
    const { name, stub } = newPool();
    const waiting = leaseId(stub, name, 60_000);
    const msg = await job(name, "ten_e");
    // The runner is seen (its lease is waiting) before the job is enqueued: the enqueue itself answers it.
    await expect.poll(async () => (await stub.stats()).runners).toBe(1);
    expect(await stub.enqueue(msg)).toBe("queued");
    expect(await waiting).toBe(msg.job_id);
  });
});
