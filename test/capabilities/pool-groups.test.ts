/**
 * Pool groups (docs/capabilities.md "Regions and failover"): the admin API and its errors, routing to the
 * member that has the job's model, region preference from `request.cf` and the tenant's affinity, weights,
 * the group's wait threshold, and a waiting runner that holds a job's URL model preferred (issue 18).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { api, tenantWithKey } from "../harness/api.ts";
import { useStack } from "../harness/use-stack.ts";
import { report033, txt2img } from "./fixtures.ts";
import { adminCall, poolWithRunner, submitFrom } from "./group-helpers.ts";
import { CapableRunner } from "./helpers.ts";

describe("pool groups", () => {
  const stack = useStack();

  it("admin API: create, list, get, update, delete, and 4xx naming the field", async () => {
    await stack().admin("/admin/v1/pools", { name: "adm-a", region: "eu-west" });
    await stack().admin("/admin/v1/pools", { name: "adm-b" });
    const created = await adminCall(stack(), "POST", "/admin/v1/pool-groups", {
      name: "adm",
      members: [{ pool: "adm-a" }, { pool: "adm-b", region: "us-east", weight: 3 }],
      max_wait_s: 20,
    });
    expect(created.status).toBe(201);
    expect(created.json.members).toEqual([
      { pool: "adm-a", region: "eu-west", weight: 1 },
      { pool: "adm-b", region: "us-east", weight: 3 },
    ]);
    expect(
      (await adminCall(stack(), "GET", "/admin/v1/pool-groups")).json.data.map((g: { name: string }) => g.name),
    ).toContain("adm");
    const patched = await adminCall(stack(), "PATCH", "/admin/v1/pool-groups/adm", { max_wait_s: null });
    expect(patched.json.max_wait_s).toBeNull();
    expect((await adminCall(stack(), "GET", "/admin/v1/pool-groups/adm")).json.max_wait_s).toBeNull();

    const bad = async (method: string, path: string, body: unknown) => await adminCall(stack(), method, path, body);
    const cases: Array<[unknown, number, string, string]> = [
      [{ name: "x1", members: [] }, 400, "invalid_request", "members"],
      [{ name: "x1", members: [{ pool: "adm-a" }, { pool: "adm-a" }] }, 400, "invalid_request", "members[1].pool"],
      [{ name: "x1", members: [{ pool: "adm-a", weight: 0 }] }, 400, "invalid_request", "members[0].weight"],
      [{ name: "x1", members: [{ pool: "adm-a" }], max_wait_s: -1 }, 400, "invalid_request", "max_wait_s"],
      [{ name: "Bad Name", members: [{ pool: "adm-a" }] }, 400, "invalid_request", "name"],
      [{ name: "x1", members: [{ pool: "adm-a" }, { pool: "nope" }] }, 422, "unknown_pool", "members[1].pool"],
      [{ name: "adm", members: [{ pool: "adm-a" }] }, 409, "pool_group_exists", "name"],
    ];
    for (const [body, status, code, param] of cases) {
      const res = await bad("POST", "/admin/v1/pool-groups", body);
      expect({ status: res.status, code: res.json.error.code, param: res.json.error.param }).toEqual({
        status,
        code,
        param,
      });
      expect(res.json.error.message.length).toBeGreaterThan(10);
    }
    const patchBad = await bad("PATCH", "/admin/v1/pool-groups/adm", { members: [{ pool: "nope" }] });
    expect([patchBad.status, patchBad.json.error.param]).toEqual([422, "members[0].pool"]);
    expect((await bad("PATCH", "/admin/v1/pool-groups/none", { max_wait_s: 1 })).json.error.code).toBe(
      "pool_group_not_found",
    );

    // A job naming a group that does not exist.
    const tenant = await tenantWithKey(stack());
    const missing = await api(stack(), tenant.key)("/v1/jobs", { body: { workflow: txt2img(), pool: "group:none" } });
    expect([missing.status, missing.json.error.code, missing.json.error.param]).toEqual([422, "unknown_pool", "pool"]);

    expect((await adminCall(stack(), "DELETE", "/admin/v1/pool-groups/adm")).json).toEqual({
      name: "adm",
      deleted: true,
    });
    expect((await adminCall(stack(), "GET", "/admin/v1/pool-groups/adm")).status).toBe(404);
  });

  it("routes a job to the member that has its model, and refuses a model no member has", async () => {
    const eu = await poolWithRunner(stack(), "m-eu", "eu-west", report033({ checkpoints: ["a.safetensors"] }));
    const us = await poolWithRunner(stack(), "m-us", "us-east", report033({ checkpoints: ["b.safetensors"] }));
    expect(await eu.lease()).toBeNull();
    expect(await us.lease()).toBeNull();
    await stack().admin("/admin/v1/pool-groups", { name: "m", members: [{ pool: "m-eu" }, { pool: "m-us" }] });
    const { key } = await tenantWithKey(stack());
    const fromEu = { continent: "EU", colo: "FRA" };
    const b = await submitFrom(stack(), key, fromEu, { workflow: txt2img("b.safetensors"), pool: "group:m" });
    expect(b.status).toBe(202);
    expect([b.json.pool, b.json.pool_group, b.json.region]).toEqual(["m-us", "m", "us-east"]);
    const a = await submitFrom(stack(), key, fromEu, { workflow: txt2img("a.safetensors"), pool: "group:m" });
    expect([a.json.pool, a.json.region]).toEqual(["m-eu", "eu-west"]);
    // The job shows where it went on GET too.
    const got = await api(stack(), key)(`/v1/jobs/${b.json.id}`);
    expect([got.json.pool, got.json.pool_group, got.json.region]).toEqual(["m-us", "m", "us-east"]);
    const none = await submitFrom(stack(), key, fromEu, { workflow: txt2img("c.safetensors"), pool: "group:m" });
    expect(none.status).toBe(422);
    expect([none.json.error.code, none.json.error.param]).toEqual([
      "model_not_available",
      "workflow.4.inputs.ckpt_name",
    ]);
  });

  it("prefers the member nearest the request (colo, continent), then weight; a tenant's affinity wins", async () => {
    const report = report033();
    const runners = [
      await poolWithRunner(stack(), "r-eu", "eu-west", report),
      await poolWithRunner(stack(), "r-us", "us-east", report),
      await poolWithRunner(stack(), "r-fra", "FRA", report),
    ];
    for (const r of runners) expect(await r.lease()).toBeNull();
    await stack().admin("/admin/v1/pool-groups", {
      name: "r",
      members: [{ pool: "r-eu" }, { pool: "r-us" }, { pool: "r-fra" }],
    });
    await stack().admin("/admin/v1/pool-groups", {
      name: "w",
      members: [
        { pool: "r-us", weight: 1 },
        { pool: "r-eu", weight: 5 },
      ],
    });
    const tenant = await tenantWithKey(stack());
    const go = async (cf: Record<string, string>, pool = "group:r", key = tenant.key) =>
      (await submitFrom(stack(), key, cf, { workflow: txt2img(), pool })).json.pool;
    expect(await go({ continent: "NA", colo: "EWR" })).toBe("r-us");
    expect(await go({ continent: "EU", colo: "AMS" })).toBe("r-eu");
    expect(await go({ continent: "EU", colo: "FRA" })).toBe("r-fra");
    // Equally far: the heavier member.
    expect(await go({ continent: "AS", colo: "SIN" }, "group:w")).toBe("r-eu");
    // The tenant's affinity over the request's location.
    const other = await tenantWithKey(stack());
    expect(
      (await adminCall(stack(), "PUT", `/admin/v1/tenants/${other.id}/region`, { region: "us-east" })).status,
    ).toBe(200);
    expect(await go({ continent: "EU", colo: "FRA" }, "group:r", other.key)).toBe("r-us");
    const badRegion = await adminCall(stack(), "PUT", `/admin/v1/tenants/${other.id}/region`, { region: "" });
    expect([badRegion.status, badRegion.json.error.param]).toEqual([400, "region"]);
  });

  it("applies each member's tenant access rules: a member closed to the tenant is skipped, none left is a 422", async () => {
    const allowed = await tenantWithKey(stack());
    const other = await tenantWithKey(stack());
    const near = await poolWithRunner(stack(), "a-near", "eu-west", report033());
    const far = await poolWithRunner(stack(), "a-far", "us-east", report033());
    expect(await near.lease()).toBeNull();
    expect(await far.lease()).toBeNull();
    await stack().admin("/admin/v1/pools/a-near", { tenants: [allowed.id] }, "PATCH");
    await stack().admin("/admin/v1/pools/a-far", { tenants: [allowed.id, other.id] }, "PATCH");
    await stack().admin("/admin/v1/pool-groups", { name: "a", members: [{ pool: "a-near" }, { pool: "a-far" }] });
    const fromEu = { continent: "EU", colo: "FRA" };
    const body = { workflow: txt2img(), pool: "group:a" };
    expect((await submitFrom(stack(), allowed.key, fromEu, body)).json.pool).toBe("a-near");
    const skipped = await submitFrom(stack(), other.key, fromEu, body);
    expect([skipped.status, skipped.json.pool, skipped.json.region]).toEqual([202, "a-far", "us-east"]);
    // The group as this tenant sees it (members it may use) is what a re-queued job may move along.
    const stranger = await tenantWithKey(stack());
    const refused = await submitFrom(stack(), stranger.key, fromEu, body);
    expect([refused.status, refused.json.error.code, refused.json.error.param]).toEqual([422, "unknown_pool", "pool"]);
  });

  it("fails over from a member whose wait estimate is above the group's max_wait_s", async () => {
    const near = await poolWithRunner(stack(), "t-near", "eu-west", report033());
    const far = await poolWithRunner(stack(), "t-far", "us-east", report033());
    expect(await near.lease()).toBeNull();
    expect(await far.lease()).toBeNull();
    const { key } = await tenantWithKey(stack());
    // One job queued in t-near: a second waits a typical run (30 s before the pool has run any).
    const queued = await api(stack(), key)("/v1/jobs", { body: { workflow: txt2img(), pool: "t-near" } });
    expect(queued.status).toBe(202);
    await stack().admin("/admin/v1/pool-groups", {
      name: "t",
      members: [{ pool: "t-near" }, { pool: "t-far" }],
      max_wait_s: 10,
    });
    const fromEu = { continent: "EU", colo: "FRA" };
    const over = await submitFrom(stack(), key, fromEu, { workflow: txt2img(), pool: "group:t" });
    expect([over.status, over.json.pool]).toEqual([202, "t-far"]);
    // Without a threshold the nearest member takes it, wait or not.
    await stack().admin("/admin/v1/pool-groups/t", { max_wait_s: null }, "PATCH");
    const nearest = await submitFrom(stack(), key, fromEu, { workflow: txt2img(), pool: "group:t" });
    expect(nearest.json.pool).toBe("t-near");
  });

  it("a waiting runner that already holds the job's URL model gets it before one that would download it", async () => {
    const url = "https://models.example.com/dream.safetensors";
    const cached = `url-${createHash("sha256").update(url).digest("hex").slice(0, 16)}-dream.safetensors`;
    await stack().admin("/admin/v1/pools", { name: "u-pool" });
    await stack().admin("/admin/v1/pools/u-pool/manifest", { models: [], url_models: { max_bytes: 2 ** 30 } }, "PUT");
    const { token } = await stack().admin<{ token: string }>("/admin/v1/runner-tokens", { pool: "u-pool" });
    const plain = new CapableRunner(stack(), token, "plain", report033({ checkpoints: ["sd15.safetensors"] }));
    const holder = new CapableRunner(
      stack(),
      token,
      "holder",
      report033({ checkpoints: ["sd15.safetensors", cached] }),
    );
    expect(await plain.lease()).toBeNull();
    expect(await holder.lease()).toBeNull();
    const tenant = await tenantWithKey(stack());
    await stack().admin(`/admin/v1/tenants/${tenant.id}/model-hosts`, { hosts: ["models.example.com"] }, "PUT");
    const metrics = async () =>
      (
        await fetch(`${stack().url}/admin/v1/pools/u-pool/metrics`, {
          headers: { authorization: `Bearer ${stack().adminToken}` },
        })
      ).text();
    const waiting = (n: number) => new RegExp(`comfy_edge_pool_waiting_runners\\{[^}]*\\} ${n}\n`);
    // The runner without the file waits first: it would take the job if nothing were preferred.
    const plainLease = plain.lease(8);
    await expect.poll(metrics, { timeout: 10_000 }).toMatch(waiting(1));
    const holderLease = holder.lease(8);
    await expect.poll(metrics, { timeout: 10_000 }).toMatch(waiting(2));
    const job = await api(stack(), tenant.key)("/v1/jobs", { body: { workflow: txt2img(url), pool: "u-pool" } });
    expect(job.status).toBe(202);
    expect((await holderLease)?.job.id).toBe(job.json.id);
    expect(await plainLease).toBeNull();
  });
});
