/** Capability-aware dispatch under a mixed queue: no runner is ever leased a job it lacks a model for. */
import { describe, expect, it } from "vitest";
import { api, runnerToken, tenantWithKey } from "../harness/api.ts";
import { useStack } from "../harness/use-stack.ts";
import { report033, txt2img } from "./fixtures.ts";
import { CapableRunner, leaseEveryJobOnce } from "./helpers.ts";

describe("capability-aware dispatch", () => {
  const stack = useStack();

  it("leases every job, each only to a runner that has its checkpoint", async () => {
    const token = await runnerToken(stack(), "caps-mix");
    const runners = [
      new CapableRunner(stack(), token, "ab", report033({ checkpoints: ["a.safetensors", "b.safetensors"] })),
      new CapableRunner(stack(), token, "b", report033({ checkpoints: ["b.safetensors"] })),
      new CapableRunner(stack(), token, "c", report033({ checkpoints: ["c.safetensors"] })),
    ];
    for (const r of runners) expect(await r.lease()).toBeNull();
    const tenants = [
      api(stack(), (await tenantWithKey(stack())).key),
      api(stack(), (await tenantWithKey(stack())).key),
    ];
    const wanted = new Map<string, string>();
    const ckpts = ["a.safetensors", "b.safetensors", "c.safetensors"];
    for (let i = 0; i < 18; i++) {
      const ckpt = ckpts[(i * 7) % 3]!;
      const res = await tenants[i % 2]!("/v1/jobs", { body: { workflow: txt2img(ckpt), pool: "caps-mix" } });
      expect(res.status).toBe(202);
      wanted.set(res.json.id, ckpt);
    }
    const client = tenants[0]!;
    await expect
      .poll(
        async () => (await client("/v1/pools")).json.data.find((p: { name: string }) => p.name === "caps-mix")?.queued,
        {
          timeout: 10_000,
        },
      )
      .toBe(18);
    const leased = await leaseEveryJobOnce(runners, wanted);
    // The only runner with c's checkpoint ran every c job.
    for (const [job, ckpt] of wanted) if (ckpt === "c.safetensors") expect(leased.get(job)).toBe("c");
  });

  it("a waiting runner that cannot run the job does not hold it back from one behind it that can", async () => {
    const token = await runnerToken(stack(), "caps-wait");
    const a = new CapableRunner(stack(), token, "a", report033({ checkpoints: ["a.safetensors"] }));
    const b = new CapableRunner(stack(), token, "b", report033({ checkpoints: ["b.safetensors"] }));
    expect(await a.lease()).toBeNull();
    expect(await b.lease()).toBeNull();
    const client = api(stack(), (await tenantWithKey(stack())).key);
    const metrics = async () =>
      (
        await fetch(`${stack().url}/admin/v1/pools/caps-wait/metrics`, {
          headers: { authorization: `Bearer ${stack().adminToken}` },
        })
      ).text();
    const waiting = (n: number) => new RegExp(`comfy_edge_pool_waiting_runners\\{[^}]*\\} ${n}\n`);
    // a waits first, then b; then a job only b can run arrives.
    const aLease = a.lease(8);
    await expect.poll(metrics, { timeout: 10_000 }).toMatch(waiting(1));
    const bLease = b.lease(8);
    await expect.poll(metrics, { timeout: 10_000 }).toMatch(waiting(2));
    const job = await client("/v1/jobs", { body: { workflow: txt2img("b.safetensors"), pool: "caps-wait" } });
    expect(job.status).toBe(202);
    expect((await bLease)?.job.id).toBe(job.json.id);
    expect(await aLease).toBeNull();
  });

  it("a job no live runner can run waits (waiting_for), is never leased, and fails no_capacity at its queue limit", async () => {
    const token = await runnerToken(stack(), "caps-none");
    const a = new CapableRunner(
      stack(),
      token,
      "a",
      report033({ checkpoints: ["a.safetensors"], loras: ["x.safetensors"] }),
    );
    const b = new CapableRunner(stack(), token, "b", report033({ checkpoints: ["b.safetensors"] }));
    expect(await a.lease()).toBeNull();
    expect(await b.lease()).toBeNull();
    const client = api(stack(), (await tenantWithKey(stack(), { limits: { queue_timeout_s: 2 } })).key);
    const wf = txt2img("b.safetensors");
    wf["11"] = {
      class_type: "LoraLoader",
      inputs: { lora_name: "x.safetensors", strength_model: 1, strength_clip: 1, model: ["4", 0], clip: ["4", 1] },
    };
    wf["3"]!.inputs.model = ["11", 0];
    const job = await client("/v1/jobs", { body: { workflow: wf, pool: "caps-none" } });
    expect(job.status).toBe(202);
    await expect
      .poll(async () => (await client(`/v1/jobs/${job.json.id}`)).json.waiting_for, { timeout: 10_000 })
      .toEqual({ model: { folder: "checkpoints", name: "b.safetensors" } });
    const leases = [a.lease(5), b.lease(5)];
    const done = await client(`/v1/jobs/${job.json.id}`, { headers: { prefer: "wait=20" } });
    expect(done.json.status).toBe("failed");
    expect(done.json.error.code).toBe("no_capacity");
    expect(await Promise.all(leases)).toEqual([null, null]);
  });
});
