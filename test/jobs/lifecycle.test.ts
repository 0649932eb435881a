/** Jobs over HTTP on workerd (gateway + consumer + real queues, DOs, D1, R2) with a scripted runner. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  api,
  ensurePool,
  readSse,
  runnerToken,
  ScriptedRunner,
  TRIVIAL_WORKFLOW,
  tenantWithKey,
} from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5]);

describe("job lifecycle", () => {
  let stack: Stack;
  let runner: ScriptedRunner;
  beforeAll(async () => {
    stack = await startStack({ vars: { LEASE_DURATION_S: "2", DISPATCH_RESEND_S: "1" } });
    await ensurePool(stack, "local");
    runner = new ScriptedRunner(stack, await runnerToken(stack, "local"));
  }, 60_000);
  afterAll(() => stack?.close());

  it("runs submit -> lease -> progress -> upload -> succeeded, with outputs, SSE and the index", async () => {
    const t = await tenantWithKey(stack);
    const call = api(stack, t.key);
    const submitted = await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, metadata: { order: "42" } } });
    expect(submitted.status).toBe(202);
    expect(submitted.headers.get("location")).toBe(`/v1/jobs/${submitted.json.id}`);
    expect(submitted.json).toMatchObject({
      status: "queued",
      pool: "local",
      // The attempt it waits for, as its queued event says.
      attempt: 1,
      cancel_requested: false,
      outputs: [],
      metadata: { order: "42" },
    });
    const jobId = submitted.json.id as string;

    const grant = await runner.lease();
    expect(grant?.job.id).toBe(jobId);
    expect(grant?.lease.attempt).toBe(1);
    expect(grant?.job.workflow["9"]?.class_type).toBe("SaveImage");
    expect((await call(`/v1/jobs/${jobId}`)).json.status).toBe("running");

    const leaseId = grant!.lease.id;
    expect((await runner.event(leaseId, { type: "started", prompt_id: "p1" })).status).toBe(200);
    expect((await runner.event(leaseId, { type: "progress", value: 1, max: 2, node_id: "2" })).status).toBe(200);
    const hb = await runner.heartbeat(leaseId);
    expect(hb.status).toBe(200);
    expect(hb.json.cancel).toBe(false);
    const up = await runner.upload(leaseId, PNG);
    expect(up.ref?.key).toMatch(new RegExp(`^jobs/${jobId}/a1/`));
    const done = await runner.event(leaseId, {
      type: "succeeded",
      outputs: [up.ref],
      stats: { run_ms: 12, upload_ms: 3 },
    });
    expect(done.json).toEqual({ status: "succeeded", cancel: false });

    const job = (await call(`/v1/jobs/${jobId}`)).json;
    expect(job.status).toBe("succeeded");
    expect(job.outputs).toHaveLength(1);
    expect(job.outputs[0]).toMatchObject({
      index: 0,
      node_id: "9",
      filename: "out.png",
      content_type: "image/png",
      size: PNG.length,
    });
    expect(job.stats.run_ms).toBe(12);
    expect(job.stats.total_ms).toBe(Date.parse(job.completed_at) - Date.parse(job.created_at));
    // The signed URL and the authenticated download both give the bytes.
    expect(new Uint8Array(await (await fetch(job.outputs[0].url)).arrayBuffer())).toEqual(PNG);
    const dl = await fetch(`${stack.url}/v1/jobs/${jobId}/outputs/0`, {
      headers: { authorization: `Bearer ${t.key}` },
    });
    expect(dl.headers.get("content-type")).toBe("image/png");
    expect(new Uint8Array(await dl.arrayBuffer())).toEqual(PNG);

    // SSE from the start: every event in order, ending after the terminal one.
    const sse = await readSse(`${stack.url}/v1/jobs/${jobId}/events`, t.key);
    expect(sse.events.map((e) => e.event)).toEqual(["queued", "started", "progress", "output", "succeeded"]);
    expect(sse.events.map((e) => Number(e.id))).toEqual([1, 2, 3, 4, 5]);
    expect(sse.ended).toBe(true);
    // Resumed after a drop: only what came after Last-Event-ID.
    const resumed = await readSse(`${stack.url}/v1/jobs/${jobId}/events`, t.key, { lastEventId: "3" });
    expect(resumed.events.map((e) => e.event)).toEqual(["output", "succeeded"]);

    // The late runner cannot touch it any more.
    expect((await runner.heartbeat(leaseId)).json.error.code).toBe("lease_lost");
    // Listed in the index.
    const list = await call("/v1/jobs?status=succeeded");
    expect(list.json.data.map((j: { id: string }) => j.id)).toContain(jobId);
    // GPU time recorded in the tenant's usage.
    const usage = (await call("/v1/usage")).json;
    expect(usage.jobs.tenant).toEqual({ finished: 1, succeeded: 1, gpu_ms: 12 });
    expect(usage.jobs.key).toEqual({ finished: 1, succeeded: 1, gpu_ms: 12 });
  });

  it("answers 404 for another tenant's job and for malformed ids", async () => {
    const a = await tenantWithKey(stack);
    const b = await tenantWithKey(stack);
    const job = (await api(stack, a.key)("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } })).json;
    const other = api(stack, b.key);
    expect((await other(`/v1/jobs/${job.id}`)).json.error.code).toBe("job_not_found");
    expect((await other(`/v1/jobs/${job.id}/cancel`, { method: "POST" })).status).toBe(404);
    expect((await other(`/v1/jobs/${job.id}/events`)).status).toBe(404);
    expect((await other("/v1/jobs/job_nope")).status).toBe(404);
    expect((await other(`/v1/jobs/${"job_" + "f".repeat(64)}`)).status).toBe(404);
    // drain
    const g = await runner.lease();
    await runner.event(g!.lease.id, { type: "failed", error: { code: "x", message: "x" } });
  });

  it("re-dispatches after a lease expires; the superseded runner gets 409 lease_lost", async () => {
    const t = await tenantWithKey(stack);
    const call = api(stack, t.key);
    const job = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } })).json;
    const first = await runner.lease();
    expect(first?.job.id).toBe(job.id);
    // The runner goes silent; the job DO's alarm expires the lease (2 s here) and re-queues it.
    const second = await new ScriptedRunner(stack, runner.token, "scripted-2").lease(10);
    expect(second?.job.id).toBe(job.id);
    expect(second?.lease.attempt).toBe(2);
    const late = await runner.heartbeat(first!.lease.id);
    expect(late.status).toBe(409);
    expect(late.json.error.code).toBe("lease_lost");
    expect((await runner.upload(first!.lease.id, PNG)).status).toBe(409);
    expect((await runner.event(first!.lease.id, { type: "succeeded", outputs: [] })).status).toBe(409);
    // `started` comes with an attempt's first runner report: the silent first attempt has none.
    expect((await runner.event(second!.lease.id, { type: "started", prompt_id: "p2" })).status).toBe(200);
    const events = await readSse(`${stack.url}/v1/jobs/${job.id}/events`, t.key, {
      until: (e) => e.event === "started" && e.data.attempt === 2,
    });
    expect(events.events.map((e) => [e.event, e.data.attempt])).toEqual([
      ["queued", 1],
      ["queued", 2],
      ["started", 2],
    ]);
    await runner.event(second!.lease.id, { type: "canceled" });
  });

  it("gives a job back without counting an attempt, and re-queues retryable failures within the budget", async () => {
    const t = await tenantWithKey(stack);
    const call = api(stack, t.key);
    const job = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } })).json;
    const g1 = await runner.lease();
    expect((await runner.giveBack(g1!.lease.id)).json.status).toBe("queued");
    const g2 = await runner.lease();
    expect(g2?.lease.attempt).toBe(2);
    const r2 = await runner.event(g2!.lease.id, {
      type: "failed",
      error: { code: "comfyui_unavailable", message: "down" },
      retryable: true,
    });
    expect(r2.json.status).toBe("queued");
    const g3 = await runner.lease();
    const r3 = await runner.event(g3!.lease.id, {
      type: "failed",
      error: { code: "comfyui_unavailable", message: "down" },
      retryable: true,
    });
    expect(r3.json.status).toBe("queued");
    const g4 = await runner.lease();
    expect(g4?.lease.attempt).toBe(4);
    // Third counted attempt: the budget (3) is spent, so this failure is final.
    const r4 = await runner.event(g4!.lease.id, {
      type: "failed",
      error: { code: "comfyui_unavailable", message: "down" },
      retryable: true,
    });
    expect(r4.json.status).toBe("failed");
    const final = (await call(`/v1/jobs/${job.id}`)).json;
    expect(final.error).toEqual({ code: "comfyui_unavailable", message: "down" });
  });

  it("rejects a success whose outputs were not uploaded under the current attempt", async () => {
    const t = await tenantWithKey(stack);
    await api(stack, t.key)("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } });
    const g = await runner.lease();
    const bad = await runner.event(g!.lease.id, {
      type: "succeeded",
      outputs: [
        { key: `jobs/${g!.job.id}/a1/missing.png`, node_id: "9", filename: "x.png", content_type: "image/png" },
      ],
    });
    expect(bad.status).toBe(422);
    expect(bad.json.error.code).toBe("output_missing");
    const foreign = await runner.event(g!.lease.id, {
      type: "succeeded",
      outputs: [{ key: "uploads/t/file_x", node_id: "9", filename: "x.png", content_type: "image/png" }],
    });
    expect(foreign.status).toBe(422);
    await runner.event(g!.lease.id, { type: "canceled" });
  });
});

describe("job listing", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
    await ensurePool(stack, "local");
  }, 60_000);
  afterAll(() => stack?.close());

  it("pages newest first with next_cursor and filters by status", async () => {
    const t = await tenantWithKey(stack);
    const call = api(stack, t.key);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } })).json.id);
    await expect.poll(async () => (await call("/v1/jobs?limit=100")).json.data.length, { timeout: 5000 }).toBe(5);
    const seen: Array<{ id: string; created_at: string }> = [];
    let cursor: string | null = null;
    do {
      const page: { json: { data: Array<{ id: string; created_at: string }>; next_cursor: string | null } } =
        (await call(`/v1/jobs?limit=2${cursor ? `&cursor=${cursor}` : ""}`)) as never;
      expect(page.json.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.data);
      cursor = page.json.next_cursor;
    } while (cursor);
    // Every job exactly once, newest first.
    expect(seen.map((j) => j.id).sort()).toEqual([...ids].sort());
    const times = seen.map((j) => Date.parse(j.created_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    await call(`/v1/jobs/${ids[0]}/cancel`, { method: "POST" });
    await expect
      .poll(async () => (await call("/v1/jobs?status=canceled")).json.data.map((j: { id: string }) => j.id), {
        timeout: 5000,
      })
      .toEqual([ids[0]]);
    expect((await call("/v1/jobs?status=queued")).json.data).toHaveLength(4);
    expect((await call("/v1/jobs?cursor=garbage!")).json.error.code).toBe("invalid_request");
    expect((await call("/v1/jobs?limit=0")).json.error.param).toBe("limit");
  });
});
