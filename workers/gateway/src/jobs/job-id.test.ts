/** Job ids: short (`job_` + 26 base32) for new jobs, and the 64-hex ids issued before keep working (issue 12.12). */
import { env } from "cloudflare:test";
import { idempotentJobId, jobObjectId, newJobId } from "@comfy-edge/shared/job-id";
import { describe, expect, it } from "vitest";
import { call, createKey, createPool, createTenant, json } from "../../test/helpers.ts";
import { jobInput, newJobObject } from "../../test/job-fixtures.ts";
import { leaseId, parseLeaseId } from "./lease-token.ts";

const SHORT = /^job_[0-9abcdefghjkmnpqrstvwxyz]{26}$/;
const workflow = {
  "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "x" } },
};

async function fixture(pool: string) {
  expect((await createPool(pool)).status).toBe(201);
  const tenant = await createTenant({ default_pool: pool });
  const { key } = await createKey(tenant.id);
  return { tenant, key };
}

async function status(key: string, id: string): Promise<number> {
  return (await call(`/v1/jobs/${id}`, { token: key })).status;
}

describe("job ids", () => {
  it("new ids are job_ + 26 base32 characters, distinct; idempotent ids depend on tenant and key only", async () => {
    const ids = new Set(Array.from({ length: 200 }, () => newJobId()));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(SHORT);
    const a = await idempotentJobId("ten_a", "order-42");
    expect(a).toMatch(SHORT);
    expect(await idempotentJobId("ten_a", "order-42")).toBe(a);
    expect(await idempotentJobId("ten_b", "order-42")).not.toBe(a);
    expect(await idempotentJobId("ten_a", "order-43")).not.toBe(a);
  });

  it("maps a short id by name and an old 64-hex id by string; anything else is no job", () => {
    const short = newJobId();
    expect(jobObjectId(env.JOBS, short)?.equals(env.JOBS.idFromName(short))).toBe(true);
    const hex = env.JOBS.newUniqueId();
    expect(jobObjectId(env.JOBS, `job_${hex.toString()}`)?.equals(hex)).toBe(true);
    expect(jobObjectId(env.JOBS, `job_${"0".repeat(64)}`)).toBeNull();
    expect(jobObjectId(env.JOBS, "job_ABCDEFGHJKMNPQRSTVWXYZ0123")).toBeNull();
    expect(jobObjectId(env.JOBS, `${short}x`)).toBeNull();
  });

  it("lease ids carry either form of job id", async () => {
    const short = newJobId();
    const old = `job_${env.JOBS.newUniqueId().toString()}`;
    expect(await parseLeaseId("secret", await leaseId("secret", short, 3))).toEqual({ jobId: short, attempt: 3 });
    expect(await parseLeaseId("secret", await leaseId("secret", old, 1))).toEqual({ jobId: old, attempt: 1 });
  });

  it("POST /v1/jobs issues a short id that GET, events and cancel accept; Idempotency-Key gives the same id", async () => {
    const { key } = await fixture("job-id-short");
    const job = await json<{ id: string }>(await call("/v1/jobs", { token: key, body: { workflow } }));
    expect(job.id).toMatch(SHORT);
    expect(await status(key, job.id)).toBe(200);
    const headers = { "idempotency-key": "read-aloud" };
    const first = await json<{ id: string }>(await call("/v1/jobs", { token: key, body: { workflow }, headers }));
    const again = await json<{ id: string }>(await call("/v1/jobs", { token: key, body: { workflow }, headers }));
    expect(first.id).toMatch(SHORT);
    expect(again.id).toBe(first.id);
    expect((await call(`/v1/jobs/${job.id}/cancel`, { token: key, method: "POST" })).status).toBe(202);
    await expect
      .poll(async () => (await json<{ status: string }>(await call(`/v1/jobs/${job.id}`, { token: key }))).status)
      .toBe("canceled");
    const events = await call(`/v1/jobs/${job.id}/events`, { token: key });
    expect(events.status).toBe(200);
    expect(await events.text()).toContain("canceled");
  });

  it("a job created under an old 64-hex id still answers GET, events and cancel", async () => {
    const { tenant, key } = await fixture("job-id-legacy");
    const job = newJobObject();
    const jobId = job.jobId;
    const create = jobInput(jobId, { tenant_id: tenant.id, pool: "job-id-legacy", workflow });
    expect((await job.api.create(create)).status).toBe("created");
    const got = await json<{ id: string; status: string }>(await call(`/v1/jobs/${jobId}`, { token: key }));
    expect(got).toMatchObject({ id: jobId, status: "queued" });
    expect((await call(`/v1/jobs/${jobId}/cancel`, { token: key, method: "POST" })).status).toBe(202);
    await expect
      .poll(async () => (await json<{ status: string }>(await call(`/v1/jobs/${jobId}`, { token: key }))).status)
      .toBe("canceled");
    const events = await call(`/v1/jobs/${jobId}/events`, { token: key });
    expect(await events.text()).toContain("canceled");
    // An unknown id of either form is a 404, not a 500.
    expect(await status(key, `job_${env.JOBS.newUniqueId().toString()}`)).toBe(404);
    expect(await status(key, newJobId())).toBe(404);
  });
});
