/** processJobMessage against the real Durable Objects and R2 (run in the gateway's workerd, which hosts them). */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { jobInput, newJobObject } from "../../gateway/test/job-fixtures.ts";
import { type JobsEnv, processDeadJobMessage, processJobMessage, retryDelaySeconds } from "./jobs.ts";

const jobsEnv = env as unknown as JobsEnv;

async function createJob(pool = "local", inputs: unknown[] = []) {
  const job = newJobObject();
  const input = jobInput(job.jobId, {
    tenant_id: "ten_c",
    key_id: "key_c",
    pool,
    workflow: { "1": { class_type: "SaveImage", inputs: {} } },
  });
  await job.api.create({ ...input, inputs: inputs as typeof input.inputs });
  return { jobId: job.jobId, stub: job.api };
}

function dispatch(jobId: string, inputs: unknown[], pool = "local") {
  return {
    type: "dispatch",
    job_id: jobId,
    attempt: 1,
    tenant_id: "ten_c",
    pool,
    max_running: null,
    inputs,
    image_allowlist: null,
  };
}

describe("processJobMessage", () => {
  it("acks malformed messages without throwing", async () => {
    expect(await processJobMessage(jobsEnv, { type: "nope" }, 1, 6)).toEqual({ action: "ack", note: "malformed" });
    expect(await processJobMessage(jobsEnv, "x", 1, 6)).toMatchObject({ action: "ack" });
  });

  it("inserts into the pool once per (job, attempt)", async () => {
    const { jobId } = await createJob("consumer-pool");
    expect(await processJobMessage(jobsEnv, dispatch(jobId, [], "consumer-pool"), 1, 6)).toEqual({
      action: "ack",
      note: "queued",
    });
    expect(await processJobMessage(jobsEnv, dispatch(jobId, [], "consumer-pool"), 1, 6)).toEqual({
      action: "ack",
      note: "duplicate",
    });
  });

  it("fails the job with input_unavailable naming the node when the guard refuses an input", async () => {
    const inputs = [{ kind: "url", node_id: "12", url: "https://10.0.0.8/x.png", key: "jobs/x/inputs/12" }];
    const { jobId, stub } = await createJob("local", inputs);
    expect(await processJobMessage(jobsEnv, dispatch(jobId, inputs), 1, 6)).toEqual({
      action: "ack",
      note: "input_unavailable",
    });
    const job = await stub.get("ten_c");
    expect(job?.status).toBe("failed");
    expect(job?.error).toMatchObject({ code: "input_unavailable", node_id: "12" });
  });

  it("fails at once with input_unavailable naming the node and the host when the host does not resolve", async () => {
    const inputs = [{ kind: "url", node_id: "7", url: "https://no-such-host.invalid/x.png", key: "jobs/nx/inputs/7" }];
    const { jobId, stub } = await createJob("local", inputs);
    expect(await processJobMessage(jobsEnv, dispatch(jobId, inputs), 1, 6)).toEqual({
      action: "ack",
      note: "input_unavailable",
    });
    const job = await stub.get("ten_c");
    expect(job?.status).toBe("failed");
    expect(job?.error).toMatchObject({ code: "input_unavailable", node_id: "7" });
    expect(job?.error).toMatchObject({
      message: expect.stringContaining("could not resolve host no-such-host.invalid"),
    });
  });

  it("retries an input whose server answered 503 (it may recover)", async () => {
    const inputs = [{ kind: "url", node_id: "8", url: "https://images.example.com/x.png", key: "jobs/busy/inputs/8" }];
    const { jobId } = await createJob("local", inputs);
    const busy: typeof fetch = async () => new Response("busy", { status: 503 });
    expect(await processJobMessage(jobsEnv, dispatch(jobId, inputs), 1, 6, { fetchImpl: busy })).toMatchObject({
      action: "retry",
    });
  });

  it("skips inputs already ingested by an earlier delivery", async () => {
    const key = `jobs/job_pre/inputs/3`;
    await env.FILES.put(key, new Uint8Array([1]));
    const inputs = [{ kind: "url", node_id: "3", url: "https://images.invalid/x.png", key }];
    const { jobId } = await createJob("ingested", inputs);
    expect(await processJobMessage(jobsEnv, dispatch(jobId, inputs, "ingested"), 1, 6)).toEqual({
      action: "ack",
      note: "queued",
    });
  });

  it("marks a dead-lettered job failed with routing_failed", async () => {
    const { jobId, stub } = await createJob();
    expect(await processDeadJobMessage(jobsEnv, dispatch(jobId, []))).toEqual({
      action: "ack",
      note: "routing_failed",
    });
    expect((await stub.get("ten_c"))?.error).toMatchObject({ code: "routing_failed" });
  });

  it("backs off exponentially", () => {
    expect([1, 2, 3, 4, 5].map(retryDelaySeconds)).toEqual([2, 4, 8, 16, 32]);
  });
});
