/** Pool shards (docs/capabilities.md §7): a pool served by 2 Durable Objects behind its one name. */
import { jobShard } from "@comfy-edge/shared/pool-shards/route";
import { describe, expect, it } from "vitest";
import { api, ScriptedRunner, TRIVIAL_WORKFLOW, tenantWithKey } from "../harness/api.ts";
import type { Stack } from "../harness/stack.ts";
import { useStack } from "../harness/use-stack.ts";
import { report033, txt2img } from "./fixtures.ts";
import { CapableRunner, leaseEveryJobOnce } from "./helpers.ts";

async function shardedPool(stack: Stack, name: string, shards = 2): Promise<string> {
  const pool = await stack.admin<{ shards: number }>("/admin/v1/pools", { name, shards });
  expect(pool.shards).toBe(shards);
  return (await stack.admin<{ token: string }>("/admin/v1/runner-tokens", { pool: name })).token;
}

type Call = ReturnType<typeof api>;

async function poolCounts(call: Call, name: string): Promise<{ queued: number; running: number; runners: number }> {
  const res = await call(`/v1/pools/${name}`);
  expect(res.status).toBe(200);
  return res.json as { queued: number; running: number; runners: number };
}

describe("pool shards", () => {
  const stack = useStack();

  it("shards dispatch fairly across tenants", async () => {
    const token = await shardedPool(stack(), "shard-fair");
    const a = await tenantWithKey(stack());
    const b = await tenantWithKey(stack());
    const calls = { [a.id]: api(stack(), a.key), [b.id]: api(stack(), b.key) };
    const owner = new Map<string, string>();
    // Interleaved submits: a, b, a, b, ...
    for (let i = 0; i < 24; i++) {
      const tenant = i % 2 === 0 ? a.id : b.id;
      const res = await calls[tenant]!("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "shard-fair" } });
      expect(res.status).toBe(202);
      owner.set(res.json.id, tenant);
    }
    // The jobs are spread over both shards (by job id), each shard holding jobs of both tenants.
    const shardOf = (id: string) => jobShard(id, 2);
    for (const shard of [0, 1])
      for (const tenant of [a.id, b.id])
        expect([...owner].some(([id, o]) => o === tenant && shardOf(id) === shard)).toBe(true);
    await expect.poll(async () => (await poolCounts(calls[a.id]!, "shard-fair")).queued).toBe(24);
    // A queued job of a sharded pool shows its estimated place.
    const first = [...owner.keys()][0]!;
    const queuedView = await calls[a.id]!(`/v1/jobs/${first}`);
    expect(queuedView.json.queue_position).toBeGreaterThanOrEqual(1);

    const runners = [0, 1, 2].map((i) => new ScriptedRunner(stack(), token, `fair-${i}`));
    const order: string[] = []; // job ids in grant order
    const leased = new Map<string, number>();
    while (order.length < 24) {
      const before = order.length;
      for (const r of runners) {
        const g = await r.lease(0);
        if (!g) continue;
        order.push(g.job.id);
        leased.set(g.job.id, (leased.get(g.job.id) ?? 0) + 1);
        expect((await r.event(g.lease.id, { type: "succeeded", outputs: [] })).status).toBe(200);
      }
      expect(order.length).toBeGreaterThan(before);
    }
    // Both tenants progress from the start: each is served within the first 4 grants.
    const tenants = order.map((id) => owner.get(id)!);
    expect(tenants.slice(0, 4)).toContain(a.id);
    expect(tenants.slice(0, 4)).toContain(b.id);
    // Within each shard, tenants take turns (round-robin) while both still have jobs there: no tenant gets
    // more than 2 grants in a row (2: grants in the same millisecond tie) while the other waits.
    for (const shard of [0, 1]) {
      const seq = order.filter((id) => shardOf(id) === shard).map((id) => owner.get(id)!);
      for (let i = 0; i + 2 < seq.length; i++) {
        const run = seq.slice(i, i + 3);
        const otherLeft = seq.slice(i + 3).some((t) => t !== run[0]);
        if (otherLeft) expect(run.every((t) => t === run[0])).toBe(false);
      }
    }
    expect(leased.size).toBe(24);
    expect([...leased.values()].every((n) => n === 1)).toBe(true);
    // Every shard let go of its jobs (each release reached the job's own shard).
    await expect.poll(async () => poolCounts(calls[a.id]!, "shard-fair")).toMatchObject({ queued: 0, running: 0 });
  });

  it("leases every job exactly once with 2 shards and several concurrent runners", async () => {
    const token = await shardedPool(stack(), "shard-many");
    const t = await tenantWithKey(stack());
    const call = api(stack(), t.key);
    const total = 40;
    const ids = new Set<string>();
    const submits = (async () => {
      for (let i = 0; i < total; i++) {
        const res = await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "shard-many" } });
        expect(res.status).toBe(202);
        ids.add(res.json.id);
      }
    })();
    const leased = new Map<string, number>();
    let done = 0;
    const runLoop = async (i: number) => {
      const r = new ScriptedRunner(stack(), token, `many-${i}`);
      while (done < total) {
        const g = await r.lease(1);
        if (!g) continue;
        leased.set(g.job.id, (leased.get(g.job.id) ?? 0) + 1);
        const res = await r.event(g.lease.id, { type: "succeeded", outputs: [] });
        expect(res.status).toBe(200);
        done++;
      }
    };
    await Promise.all([submits, ...[0, 1, 2, 3].map(runLoop)]);
    expect(leased.size).toBe(total);
    expect([...leased.keys()].every((id) => ids.has(id))).toBe(true);
    expect([...leased.values()].every((n) => n === 1)).toBe(true);
    for (const id of ids) expect((await call(`/v1/jobs/${id}`)).json.status).toBe("succeeded");
    await expect.poll(async () => poolCounts(call, "shard-many")).toMatchObject({ queued: 0, running: 0 });
  });

  it("runners parked on a sharded pool get the jobs that land on any shard, each exactly once", async () => {
    const token = await shardedPool(stack(), "shard-park");
    const t = await tenantWithKey(stack());
    const call = api(stack(), t.key);
    const runners = [new ScriptedRunner(stack(), token, "parked-1"), new ScriptedRunner(stack(), token, "parked-2")];
    const leased = new Map<string, number>();
    const shardsHit = new Set<number>();
    let rounds = 0;
    // At least 4 rounds, and until jobs have landed on both shards.
    for (; rounds < 20 && (rounds < 4 || shardsHit.size < 2); rounds++) {
      const pending = runners.map((r) => r.lease(20));
      await expect.poll(async () => (await poolCounts(call, "shard-park")).runners).toBe(2);
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        const res = await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "shard-park" } });
        expect(res.status).toBe(202);
        ids.push(res.json.id);
        shardsHit.add(jobShard(res.json.id, 2));
      }
      const grants = await Promise.all(pending);
      expect(grants.map((g) => g?.job.id).sort()).toEqual([...ids].sort());
      for (const [i, g] of grants.entries()) {
        leased.set(g!.job.id, (leased.get(g!.job.id) ?? 0) + 1);
        expect((await runners[i]!.event(g!.lease.id, { type: "succeeded", outputs: [] })).status).toBe(200);
      }
    }
    expect(shardsHit.size).toBe(2);
    expect(leased.size).toBe(rounds * 2);
    expect([...leased.values()].every((n) => n === 1)).toBe(true);
    await expect.poll(async () => poolCounts(call, "shard-park")).toMatchObject({ queued: 0, running: 0 });
  });

  it("capability filtering holds on shards: no runner is leased a job it lacks the checkpoint for", async () => {
    const token = await shardedPool(stack(), "shard-caps");
    const runners = [
      new CapableRunner(stack(), token, "a", report033({ checkpoints: ["a.safetensors"] })),
      new CapableRunner(stack(), token, "b", report033({ checkpoints: ["b.safetensors"] })),
    ];
    // Each runner's report reaches every shard (409 capabilities_required, then PUT).
    for (const r of runners) expect(await r.lease()).toBeNull();
    const call = api(stack(), (await tenantWithKey(stack())).key);
    const wanted = new Map<string, string>();
    for (let i = 0; i < 12; i++) {
      const ckpt = i % 3 === 0 ? "b.safetensors" : "a.safetensors";
      const res = await call("/v1/jobs", { body: { workflow: txt2img(ckpt), pool: "shard-caps" } });
      expect(res.status).toBe(202);
      wanted.set(res.json.id, ckpt);
    }
    // A model no runner of the sharded pool has is refused at submit.
    const refused = await call("/v1/jobs", { body: { workflow: txt2img("zzz.safetensors"), pool: "shard-caps" } });
    expect(refused.status).toBe(422);
    expect(refused.json.error.code).toBe("model_not_available");
    await expect.poll(async () => (await poolCounts(call, "shard-caps")).queued).toBe(12);
    await leaseEveryJobOnce(runners, wanted);
  });

  it("admin API: shards default to 1, bad values are 400 naming the field, a change waits for an idle pool", async () => {
    const plain = await stack().admin<{ shards: number }>("/admin/v1/pools", { name: "shard-admin" });
    expect(plain.shards).toBe(1);
    const bad = await fetch(`${stack().url}/admin/v1/pools/shard-admin`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${stack().adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ shards: 0 }),
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.param).toBe("shards");
    const t = await tenantWithKey(stack());
    const call = api(stack(), t.key);
    const job = await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, pool: "shard-admin" } });
    expect(job.status).toBe(202);
    await expect.poll(async () => (await poolCounts(call, "shard-admin")).queued).toBe(1);
    const busy = await fetch(`${stack().url}/admin/v1/pools/shard-admin`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${stack().adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ shards: 2 }),
    });
    expect(busy.status).toBe(409);
    const busyBody = await busy.json();
    expect(busyBody.error).toMatchObject({ code: "pool_busy", param: "shards" });
    expect(await call(`/v1/jobs/${job.json.id}/cancel`, { method: "POST" })).toMatchObject({ status: 202 });
    await expect.poll(async () => (await poolCounts(call, "shard-admin")).queued).toBe(0);
    const changed = await stack().admin<{ shards: number }>("/admin/v1/pools/shard-admin", { shards: 2 }, "PATCH");
    expect(changed.shards).toBe(2);
  });
});
