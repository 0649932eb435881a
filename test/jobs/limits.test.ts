/**
 * Limits and identities over HTTP on workerd (gateway + consumer, real queues, DOs, D1, R2): queued-job
 * quota under a burst, output caps and content checks, inputs a refused request cannot touch, runners
 * known by their token, and the cancel long poll.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, ensurePool, runnerToken, ScriptedRunner, TRIVIAL_WORKFLOW, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";

const PNG_HEAD = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const png = (size: number) => {
  const bytes = new Uint8Array(size).fill(7);
  bytes.set(PNG_HEAD);
  return bytes;
};
const dataUrl = (bytes: Uint8Array) => `data:image/png;base64,${Buffer.from(bytes).toString("base64")}`;
const withImage = (image: string) => ({
  ...TRIVIAL_WORKFLOW,
  "5": { class_type: "LoadImage", inputs: { image } },
  "6": { class_type: "SaveImage", inputs: { images: ["5", 0], filename_prefix: "in" } },
});

describe("job limits", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ vars: { MAX_OUTPUTS: "3", MAX_OUTPUT_BYTES: "2000", DISPATCH_RESEND_S: "1" } });
    await ensurePool(stack, "local");
  }, 60_000);
  afterAll(() => stack?.close());

  it("accepts exactly max_queued_jobs of 100 parallel submits, and more once jobs leave the queue", async () => {
    await ensurePool(stack, "burst");
    const t = await tenantWithKey(stack, { limits: { max_queued_jobs: 5 } });
    const call = api(stack, t.key);
    const submit = () => call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "burst" } });
    const answers = await Promise.all(Array.from({ length: 100 }, submit));
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted).toHaveLength(5);
    expect(refused).toHaveLength(95);
    expect(refused[0]!.json.error.code).toBe("too_many_jobs");
    expect(refused[0]!.json.error.message).toContain("5 queued jobs (limit max_queued_jobs = 5)");
    expect(refused[0]!.headers.get("retry-after")).toBe("10");
    expect(answers.every((a) => a.status === 202 || a.status === 429)).toBe(true);

    // A job that starts leaves the queue: its slot is given back (through its outbox).
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "burst"), "burst-runner");
    const started = await runner.lease(10);
    expect(started).not.toBeNull();
    await expect.poll(async () => (await submit()).status, { timeout: 10_000 }).toBe(202);
    expect((await submit()).status).toBe(429);
    // So does a job canceled while queued.
    const queued = accepted.map((a) => a.json.id as string).find((id) => id !== started!.job.id)!;
    expect((await call(`/v1/jobs/${queued}/cancel`, { method: "POST" })).status).toBe(202);
    await expect.poll(async () => (await submit()).status, { timeout: 10_000 }).toBe(202);
    expect((await submit()).status).toBe(429);
  });

  it("fails a running job past its tenant's limits.max_run_s although its runner keeps heartbeating", async () => {
    const t = await tenantWithKey(stack, { limits: { max_run_s: 1 } });
    const tenant = await stack.admin<{ limits: { max_run_s: number | null } }>(`/admin/v1/tenants/${t.id}`);
    expect(tenant.limits.max_run_s).toBe(1);
    await ensurePool(stack, "maxrun");
    const call = api(stack, t.key);
    const job = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "maxrun" } })).json;
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "maxrun"), "maxrun-runner");
    const grant = (await runner.lease(10))!;
    expect(grant.job.id).toBe(job.id);
    await expect
      .poll(
        async () => {
          await runner.heartbeat(grant.lease.id);
          return (await call(`/v1/jobs/${job.id}`)).json.status;
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe("failed");
    const failed = (await call(`/v1/jobs/${job.id}`)).json;
    expect(failed.error).toMatchObject({ code: "max_run_time_exceeded", details: { max_run_s: 1 } });
    expect(failed.error.message).toContain("this tenant's limits.max_run_s");
    expect((await runner.heartbeat(grant.lease.id)).json.error.code).toBe("lease_lost");
  });

  it("caps upload URLs and outputs per job, checks output bytes against their type, and deletes refused outputs", async () => {
    const t = await tenantWithKey(stack);
    const call = api(stack, t.key);
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "local"), "caps-runner");
    const files = await stack.files();

    // A non-image labelled image/png: the job fails and the object is deleted.
    const fake = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } })).json;
    const g1 = (await runner.lease(10))!;
    expect(g1.job.id).toBe(fake.id);
    const ok = await runner.upload(g1.lease.id, png(100));
    const html = await runner.upload(g1.lease.id, new TextEncoder().encode("<html><script>x</script></html>"));
    expect((await runner.upload(g1.lease.id, png(10))).status).toBe(201);
    const fourth = await runner.upload(g1.lease.id, png(10));
    expect(fourth.status).toBe(422);
    expect(fourth.json.error.code).toBe("too_many_uploads");
    const done = await runner.event(g1.lease.id, { type: "succeeded", outputs: [ok.ref, html.ref] });
    expect(done.json.status).toBe("failed");
    const job1 = (await call(`/v1/jobs/${fake.id}`)).json;
    expect(job1.outputs).toEqual([]);
    expect(job1.error).toMatchObject({
      code: "output_type_mismatch",
      details: { index: 1, content_type: "image/png" },
    });
    expect(job1.error.message).toContain("declared image/png");
    await expect
      .poll(async () => (await files.list({ prefix: `jobs/${fake.id}/a1/` })).objects.length, { timeout: 10_000 })
      .toBe(0);

    // More bytes than MAX_OUTPUT_BYTES in all.
    const big = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } })).json;
    const g2 = (await runner.lease(10))!;
    expect(g2.job.id).toBe(big.id);
    const a = await runner.upload(g2.lease.id, png(1500));
    const b = await runner.upload(g2.lease.id, png(1500));
    await runner.event(g2.lease.id, { type: "succeeded", outputs: [a.ref, b.ref] });
    expect((await call(`/v1/jobs/${big.id}`)).json.error).toMatchObject({
      code: "output_too_large",
      details: { bytes: 3000, max_bytes: 2000 },
    });

    // More outputs than MAX_OUTPUTS.
    const many = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } })).json;
    const g3 = (await runner.lease(10))!;
    const one = await runner.upload(g3.lease.id, png(10));
    await runner.event(g3.lease.id, { type: "succeeded", outputs: [one.ref, one.ref, one.ref, one.ref] });
    expect((await call(`/v1/jobs/${many.id}`)).json.error.code).toBe("too_many_outputs");
  });

  it("never lets a refused request change the inputs of the job its Idempotency-Key created", async () => {
    const t = await tenantWithKey(stack);
    const call = api(stack, t.key);
    const first = png(64);
    const second = png(64).fill(9, 8);
    const headers = { "idempotency-key": `idem-${t.id}` };
    const created = await call("/v1/jobs", { headers, body: { workflow: withImage(dataUrl(first)) } });
    expect(created.status).toBe(202);
    const conflict = await call("/v1/jobs", { headers, body: { workflow: withImage(dataUrl(second)) } });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe("idempotency_conflict");
    const files = await stack.files();
    const stored = (await files.list({ prefix: `jobs/${created.json.id}/inputs/` })).objects;
    expect(stored).toHaveLength(1);
    const bytes = new Uint8Array(await (await files.get(stored[0]!.key))!.arrayBuffer());
    expect(bytes).toEqual(first);
    // The same request again is a replay, and still leaves one input.
    const replay = await call("/v1/jobs", { headers, body: { workflow: withImage(dataUrl(first)) } });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect((await files.list({ prefix: `jobs/${created.json.id}/inputs/` })).objects).toHaveLength(1);
    // The runner gets the first image.
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "local"), "idem-runner");
    const grant = (await runner.lease(10))!;
    expect(grant.job.id).toBe(created.json.id);
    const input = grant.inputs.find((i) => i.node_id === "5")!;
    expect(new Uint8Array(await (await fetch(input.url)).arrayBuffer())).toEqual(first);
    await runner.event(grant.lease.id, { type: "canceled" });
  });

  it("counts runners by their token: another token's runner cannot stand in for one by reusing its id", async () => {
    await ensurePool(stack, "ident");
    const t = await tenantWithKey(stack);
    const one = new ScriptedRunner(stack, await runnerToken(stack, "ident"), "gpu-1");
    const other = new ScriptedRunner(stack, await runnerToken(stack, "ident"), "gpu-1");
    expect(await one.lease(0)).toBeNull();
    expect(await other.lease(0)).toBeNull();
    const pools = (await api(stack, t.key)("/v1/pools")).json.data as Array<{ name: string; runners: number }>;
    expect(pools.find((p) => p.name === "ident")?.runners).toBe(2);
  });

  it("answers the runner's cancel long poll with cancel once the client cancels; the job shows it until canceled", async () => {
    const t = await tenantWithKey(stack);
    const call = api(stack, t.key);
    const token = await runnerToken(stack, "local");
    const runner = new ScriptedRunner(stack, token, "cancel-runner");
    const job = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } })).json;
    const grant = (await runner.lease(10))!;
    expect(grant.job.id).toBe(job.id);
    const cancelWait = (body?: unknown) =>
      fetch(`${stack.url}/runner/v1/leases/${grant.lease.id}/cancel-wait`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    expect((await cancelWait({ wait_s: 0 }).then((r) => r.json())) as unknown).toEqual({ cancel: false });
    const bad = await cancelWait({ wait_s: 60 });
    expect(bad.status).toBe(400);
    const poll = cancelWait({ wait_s: 25 });
    const canceled = await call(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
    expect(canceled.status).toBe(202);
    expect(canceled.json).toMatchObject({ status: "running", cancel_requested: true });
    const answer = await poll;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ cancel: true });
    expect((await call(`/v1/jobs/${job.id}`)).json).toMatchObject({ status: "running", cancel_requested: true });
    await runner.event(grant.lease.id, { type: "canceled" });
    expect((await call(`/v1/jobs/${job.id}`)).json).toMatchObject({ status: "canceled", cancel_requested: false });
    const late = await cancelWait();
    expect(late.status).toBe(409);
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe("lease_lost");
  });
});
