/** Dispatch, fairness, quotas, idempotency, isolation, cancel, waiting, inputs: over HTTP on workerd. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, ensurePool, runnerToken, ScriptedRunner, TRIVIAL_WORKFLOW, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";

const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea73581e40000000049454e44ae426082",
  "hex",
);

describe("dispatch", () => {
  let stack: Stack;
  let images: http.Server;
  let imageBase: string;
  beforeAll(async () => {
    stack = await startStack({ vars: { ALLOW_PRIVATE_URLS: "true", LEASE_DURATION_S: "2", DISPATCH_RESEND_S: "1" } });
    await ensurePool(stack, "local");
    images = http.createServer((req, res) => {
      if (req.url === "/cat.png") {
        res.writeHead(200, { "content-type": "image/png" });
        res.end(PNG);
      } else if (req.url === "/page.html") {
        res.writeHead(200, { "content-type": "text/html" });
        res.end("<html></html>");
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => images.listen(0, "127.0.0.1", r));
    imageBase = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    images?.close();
  });

  it("serves tenants round-robin: one tenant's backlog never starves another's job", async () => {
    await ensurePool(stack, "fair");
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "fair"), "fair-runner");
    const big = api(stack, (await tenantWithKey(stack)).key);
    const small = api(stack, (await tenantWithKey(stack)).key);
    const bigIds: string[] = [];
    for (let i = 0; i < 8; i++)
      bigIds.push((await big("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "fair" } })).json.id);
    const smallId = (await small("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "fair" } })).json.id;
    // Let every dispatch reach the pool before leasing.
    await expect
      .poll(async () => (await big("/v1/pools")).json.data.find((p: { name: string }) => p.name === "fair")?.queued, {
        timeout: 10_000,
      })
      .toBe(9);
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      const g = await runner.lease(1);
      order.push(g!.job.id);
      await runner.event(g!.lease.id, { type: "canceled" });
    }
    expect(order[0]).toBe(bigIds[0]);
    expect(order[1]).toBe(smallId);
    expect(order[2]).toBe(bigIds[1]);
    for (let i = 0; i < 6; i++) await runner.event((await runner.lease(1))!.lease.id, { type: "canceled" });
  });

  it("answers a waiting runner the moment a job arrives", async () => {
    await ensurePool(stack, "wait");
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "wait"), "waiter");
    const call = api(stack, (await tenantWithKey(stack)).key);
    const pending = runner.lease(20);
    // The runner is already waiting (the pool counts it) before the job exists.
    await expect
      .poll(async () => (await call("/v1/pools")).json.data.find((p: { name: string }) => p.name === "wait")?.runners, {
        timeout: 5000,
      })
      .toBe(1);
    const job = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "wait" } })).json;
    const grant = await pending;
    expect(grant?.job.id).toBe(job.id);
    await runner.event(grant!.lease.id, { type: "canceled" });
  });

  it("isolates pools: a pool-A runner token never leases pool-B jobs or touches them", async () => {
    await ensurePool(stack, "iso-a");
    await ensurePool(stack, "iso-b");
    const a = new ScriptedRunner(stack, await runnerToken(stack, "iso-a"), "a");
    const b = new ScriptedRunner(stack, await runnerToken(stack, "iso-b"), "b");
    const call = api(stack, (await tenantWithKey(stack)).key);
    const job = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "iso-b" } })).json;
    expect(await a.lease(1)).toBeNull();
    const g = await b.lease(5);
    expect(g?.job.id).toBe(job.id);
    const foreign = await a.heartbeat(g!.lease.id);
    expect(foreign.status).toBe(404);
    expect((await a.event(g!.lease.id, { type: "canceled" })).status).toBe(404);
    await b.event(g!.lease.id, { type: "canceled" });
  });

  it("keeps pools with a tenant list to those tenants", async () => {
    const owner = await tenantWithKey(stack);
    const other = await tenantWithKey(stack);
    await ensurePool(stack, "private-pool", [owner.id]);
    const res = await api(stack, other.key)("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "private-pool" } });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("unknown_pool");
    expect(
      (await api(stack, owner.key)("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "private-pool" } })).status,
    ).toBe(202);
  });

  it("enforces max_queued_jobs at submit with 429 too_many_jobs", async () => {
    const t = await tenantWithKey(stack, { limits: { max_queued_jobs: 2 } });
    await ensurePool(stack, "quota");
    const call = api(stack, t.key);
    expect((await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "quota" } })).status).toBe(202);
    expect((await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "quota" } })).status).toBe(202);
    // The index row is written through the job's outbox: wait until both are visible.
    await expect.poll(async () => (await call("/v1/jobs?status=queued")).json.data.length, { timeout: 5000 }).toBe(2);
    const third = await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "quota" } });
    expect(third.status).toBe(429);
    expect(third.json.error.code).toBe("too_many_jobs");
    expect(third.headers.get("retry-after")).toBe("10");
  });

  it("enforces max_running_jobs in the dispatcher", async () => {
    const t = await tenantWithKey(stack, { limits: { max_running_jobs: 1 } });
    await ensurePool(stack, "running-cap");
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "running-cap"), "cap");
    const call = api(stack, t.key);
    await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "running-cap" } });
    await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "running-cap" } });
    const first = await runner.lease(5);
    expect(first).not.toBeNull();
    expect(await runner.lease(1)).toBeNull();
    await runner.event(first!.lease.id, { type: "canceled" });
    const second = await runner.lease(5);
    expect(second).not.toBeNull();
    await runner.event(second!.lease.id, { type: "canceled" });
  });

  it("makes concurrent duplicates with one Idempotency-Key one job; another body -> 409", async () => {
    const call = api(stack, (await tenantWithKey(stack)).key);
    const headers = { "idempotency-key": "order-7" };
    const results = await Promise.all(
      Array.from({ length: 8 }, () => call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW }, headers })),
    );
    const ids = new Set(results.map((r) => r.json.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.headers.get("idempotent-replayed") === "true")).toHaveLength(7);
    const conflict = await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, metadata: { v: 2 } }, headers });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe("idempotency_conflict");
    // Another tenant may use the same key for its own job.
    const other = await api(stack, (await tenantWithKey(stack)).key)("/v1/jobs", {
      body: { workflow: TRIVIAL_WORKFLOW },
      headers,
    });
    expect(other.json.id).not.toBe([...ids][0]);
  });

  it("cancels in every state", async () => {
    await ensurePool(stack, "cancel");
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "cancel"), "c");
    const call = api(stack, (await tenantWithKey(stack)).key);
    // queued -> canceled at once, and never leased
    const q = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "cancel" } })).json;
    const c1 = await call(`/v1/jobs/${q.id}/cancel`, { method: "POST" });
    expect(c1.status).toBe(202);
    expect(c1.json.status).toBe("canceled");
    expect(await runner.lease(1)).toBeNull();
    // running -> the next heartbeat says cancel; the runner reports canceled
    const r = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "cancel" } })).json;
    const g = await runner.lease(5);
    expect(g?.job.id).toBe(r.id);
    expect((await call(`/v1/jobs/${r.id}/cancel`, { method: "POST" })).json.status).toBe("running");
    expect((await runner.heartbeat(g!.lease.id)).json.cancel).toBe(true);
    expect((await runner.event(g!.lease.id, { type: "canceled" })).json.status).toBe("canceled");
    // terminal -> 409
    const again = await call(`/v1/jobs/${r.id}/cancel`, { method: "POST" });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe("job_finished");
    // running, and the runner goes silent: the lease expiry ends it canceled, not re-queued
    const s = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "cancel" } })).json;
    await runner.lease(5);
    await call(`/v1/jobs/${s.id}/cancel`, { method: "POST" });
    const waited = await call(`/v1/jobs/${s.id}`, { headers: { prefer: "wait=10" } });
    expect(waited.json.status).toBe("canceled");
  });

  it("Prefer: wait returns 200 with the finished job, or 202 when it is not done in time", async () => {
    await ensurePool(stack, "prefer");
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "prefer"), "p");
    const call = api(stack, (await tenantWithKey(stack)).key);
    const slow = await call("/v1/jobs", {
      body: { workflow: TRIVIAL_WORKFLOW, pool: "prefer" },
      headers: { prefer: "wait=1" },
    });
    expect(slow.status).toBe(202);
    expect(slow.headers.get("preference-applied")).toBe("wait");
    const pending = call("/v1/jobs", {
      body: { workflow: TRIVIAL_WORKFLOW, pool: "prefer" },
      headers: { prefer: "wait=20" },
    });
    const g1 = await runner.lease(5);
    await runner.event(g1!.lease.id, { type: "canceled" });
    const g2 = await runner.lease(5);
    const up = await runner.upload(g2!.lease.id, PNG);
    await runner.event(g2!.lease.id, { type: "succeeded", outputs: [up.ref] });
    const fast = await pending;
    expect(fast.status).toBe(200);
    expect(fast.json.status).toBe("succeeded");
    expect(fast.json.outputs).toHaveLength(1);
  });

  it("fails a job still queued after its queue time limit with no_capacity", async () => {
    await ensurePool(stack, "nobody");
    const call = api(stack, (await tenantWithKey(stack, { limits: { queue_timeout_s: 1 } })).key);
    const job = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "nobody" } })).json;
    const done = await call(`/v1/jobs/${job.id}`, { headers: { prefer: "wait=15" } });
    expect(done.json.status).toBe("failed");
    expect(done.json.error.code).toBe("no_capacity");
  });

  it("ignores duplicate queue deliveries: one job, one lease", async () => {
    await ensurePool(stack, "dupes");
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "dupes"), "d");
    const t = await tenantWithKey(stack);
    const job = (await api(stack, t.key)("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "dupes" } })).json;
    const queue = await stack.mf.getQueueProducer("JOBS_QUEUE", "comfy-edge-gateway");
    const dup = {
      type: "dispatch",
      job_id: job.id,
      attempt: 1,
      tenant_id: t.id,
      pool: "dupes",
      max_running: null,
      inputs: [],
      image_allowlist: null,
    };
    await Promise.all([queue.send(dup), queue.send(dup), queue.send(dup)]);
    const g = await runner.lease(5);
    expect(g?.job.id).toBe(job.id);
    await queue.send(dup); // after the lease: stale
    expect((await runner.heartbeat(g!.lease.id)).status).toBe(200);
    expect(await runner.lease(1)).toBeNull();
    await runner.event(g!.lease.id, { type: "canceled" });
  });

  it("survives a bogus dispatch for an attempt the job is not waiting for (the outbox re-sends the real one)", async () => {
    await ensurePool(stack, "bogus");
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "bogus"), "b");
    const t = await tenantWithKey(stack);
    const call = api(stack, t.key);
    const job = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "bogus" } })).json;
    await expect
      .poll(async () => (await call("/v1/pools")).json.data.find((p: { name: string }) => p.name === "bogus")?.queued, {
        timeout: 5000,
      })
      .toBe(1);
    const queue = await stack.mf.getQueueProducer("JOBS_QUEUE", "comfy-edge-gateway");
    await queue.send({
      type: "dispatch",
      job_id: job.id,
      attempt: 7,
      tenant_id: t.id,
      pool: "bogus",
      max_running: null,
      inputs: [],
      image_allowlist: null,
    });
    const g = await runner.lease(15);
    expect(g?.job.id).toBe(job.id);
    expect(g?.lease.attempt).toBe(1);
    await runner.event(g!.lease.id, { type: "canceled" });
  });

  it("fetches URL inputs at the edge, stores data: and file: inputs, and hands the runner presigned GETs", async () => {
    await ensurePool(stack, "inputs");
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "inputs"), "i");
    const t = await tenantWithKey(stack);
    const call = api(stack, t.key);
    const file = (await call("/v1/files", { body: { content_type: "image/png" } })).json;
    expect(file.id).toMatch(/^file_/);
    expect(
      (await fetch(file.upload_url, { method: "PUT", body: PNG, headers: { "content-type": "image/png" } })).status,
    ).toBe(200);
    const workflow = {
      ...TRIVIAL_WORKFLOW,
      "5": { class_type: "LoadImage", inputs: { image: `${imageBase}/cat.png` } },
      "6": { class_type: "LoadImage", inputs: { image: `data:image/png;base64,${PNG.toString("base64")}` } },
      "7": { class_type: "LoadImage", inputs: { image: `file:${file.id}` } },
    };
    const job = (await call("/v1/jobs", { body: { workflow, pool: "inputs" } })).json;
    const g = await runner.lease(10);
    expect(g?.job.id).toBe(job.id);
    expect(g!.job.workflow["5"]!.inputs.image).toBe("input:5");
    expect(g!.inputs.map((i) => i.node_id).sort()).toEqual(["5", "6", "7"]);
    for (const input of g!.inputs) {
      const res = await fetch(input.url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(PNG);
    }
    await runner.event(g!.lease.id, { type: "canceled" });
  });

  it("fails the job with input_unavailable naming the node when an input cannot be fetched", async () => {
    await ensurePool(stack, "bad-inputs");
    const call = api(stack, (await tenantWithKey(stack)).key);
    const missing = (
      await call("/v1/jobs", {
        body: {
          pool: "bad-inputs",
          workflow: {
            ...TRIVIAL_WORKFLOW,
            "5": { class_type: "LoadImage", inputs: { image: `${imageBase}/nope.png` } },
          },
        },
      })
    ).json;
    const html = (
      await call("/v1/jobs", {
        body: {
          pool: "bad-inputs",
          workflow: {
            ...TRIVIAL_WORKFLOW,
            "4": { class_type: "LoadImage", inputs: { image: `${imageBase}/page.html` } },
          },
        },
      })
    ).json;
    const a = (await call(`/v1/jobs/${missing.id}`, { headers: { prefer: "wait=15" } })).json;
    expect(a.status).toBe("failed");
    expect(a.error).toMatchObject({ code: "input_unavailable", node_id: "5" });
    const b = (await call(`/v1/jobs/${html.id}`, { headers: { prefer: "wait=15" } })).json;
    expect(b.error).toMatchObject({ code: "input_unavailable", node_id: "4" });
  });

  it("deletes a finished job with its objects; refuses unfinished ones", async () => {
    await ensurePool(stack, "del");
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "del"), "del");
    const call = api(stack, (await tenantWithKey(stack)).key);
    const job = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "del" } })).json;
    expect((await call(`/v1/jobs/${job.id}`, { method: "DELETE" })).json.error.code).toBe("job_not_finished");
    const g = await runner.lease(5);
    const up = await runner.upload(g!.lease.id, PNG);
    await runner.event(g!.lease.id, { type: "succeeded", outputs: [up.ref] });
    const r2 = await stack.files();
    expect(await r2.head(up.ref!.key)).not.toBeNull();
    expect((await call(`/v1/jobs/${job.id}`, { method: "DELETE" })).json).toEqual({ id: job.id, deleted: true });
    expect(await r2.head(up.ref!.key)).toBeNull();
    expect((await call(`/v1/jobs/${job.id}`)).status).toBe(404);
  });

  it("sweeps the objects of superseded attempts", async () => {
    await ensurePool(stack, "sweep");
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "sweep"), "s1");
    const call = api(stack, (await tenantWithKey(stack)).key);
    const job = (await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "sweep" } })).json;
    const g1 = await runner.lease(5);
    const orphan = await runner.upload(g1!.lease.id, PNG, "a1.png");
    await runner.giveBack(g1!.lease.id);
    const g2 = await runner.lease(5);
    const kept = await runner.upload(g2!.lease.id, PNG, "a2.png");
    await runner.event(g2!.lease.id, { type: "succeeded", outputs: [kept.ref] });
    const r2 = await stack.files();
    await expect
      .poll(async () => (await r2.list({ prefix: `jobs/${job.id}/a` })).objects.map((o) => o.key), { timeout: 5000 })
      .toEqual([kept.ref!.key]);
    expect(orphan.ref!.key).not.toBe(kept.ref!.key);
  });
});
