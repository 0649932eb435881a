/** A queued job shows that the edge is fetching its URL inputs (issue 12.15): GET /v1/jobs/:id waiting_for. */
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { call, createKey, createPool, createTenant, json } from "../../gateway/test/helpers.ts";
import { jobInput, newJobObject } from "../../gateway/test/job-fixtures.ts";
import { type JobsEnv, processJobMessage } from "./jobs.ts";

const jobsEnv = env as unknown as JobsEnv;
const PNG = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="),
  (c) => c.charCodeAt(0),
);

async function queuedJob(pool: string, inputs: unknown[]) {
  expect((await createPool(pool)).status).toBe(201);
  const tenant = await createTenant({ default_pool: pool });
  const { key } = await createKey(tenant.id);
  const job = newJobObject();
  const jobId = job.jobId;
  const input = jobInput(jobId, {
    tenant_id: tenant.id,
    key_id: "key_f",
    pool,
    workflow: { "1": { class_type: "LoadImage", inputs: { image: "input:1" } } },
  });
  const created = await job.api.create({ ...input, inputs: inputs as typeof input.inputs });
  expect(created.status).toBe("created");
  const message = { type: "dispatch", job_id: jobId, attempt: 1, tenant_id: tenant.id, pool, max_running: null };
  return { jobId, key, message: { ...message, inputs, image_allowlist: null } };
}

const view = async (key: string, jobId: string) =>
  json<{ status: string; waiting_for?: unknown }>(await call(`/v1/jobs/${jobId}`, { token: key }));

describe("fetching inputs", () => {
  it("shows waiting_for {inputs: fetching} while the consumer fetches a URL input, and not after", async () => {
    const inputs = [{ kind: "url", node_id: "1", url: "https://images.example.com/a.png", key: "jobs/fi/inputs/1" }];
    const { jobId, key, message } = await queuedJob("fetching-inputs", inputs);
    expect((await view(key, jobId)).waiting_for).toBeUndefined();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let asked = false;
    const slow: typeof fetch = async () => {
      asked = true;
      await gate;
      return new Response(PNG, { headers: { "content-type": "image/png" } });
    };
    const done = processJobMessage(jobsEnv, message, 1, 6, { fetchImpl: slow });
    await vi.waitFor(() => expect(asked).toBe(true));
    expect(await view(key, jobId)).toMatchObject({ status: "queued", waiting_for: { inputs: "fetching" } });
    release();
    expect(await done).toEqual({ action: "ack", note: "queued" });
    const after = await view(key, jobId);
    expect(after.status).toBe("queued");
    expect(after.waiting_for ?? null).not.toEqual({ inputs: "fetching" });
  });

  it("keeps showing it while a fetch that may recover is retried", async () => {
    const inputs = [{ kind: "url", node_id: "1", url: "https://images.example.com/b.png", key: "jobs/fb/inputs/1" }];
    const { jobId, key, message } = await queuedJob("fetching-retry", inputs);
    const busy: typeof fetch = async () => new Response("busy", { status: 503 });
    expect(await processJobMessage(jobsEnv, message, 1, 6, { fetchImpl: busy })).toMatchObject({ action: "retry" });
    expect((await view(key, jobId)).waiting_for).toEqual({ inputs: "fetching" });
  });
});
