/** A pool group as a tenant's default_pool (docs/capabilities.md §5): same routing as `"pool": "group:<name>"`. */
import { describe, expect, it } from "vitest";
import { api } from "../harness/api.ts";
import { useStack } from "../harness/use-stack.ts";
import { report033, txt2img } from "./fixtures.ts";
import { adminCall, poolWithRunner } from "./group-helpers.ts";
import { CapableRunner } from "./helpers.ts";

describe("pool group as a tenant's default_pool", () => {
  const stack = useStack();

  it("is validated at admin create/PATCH and routes jobs that name no pool to the member with their model", async () => {
    const eu = await poolWithRunner(stack(), "dg-eu", "eu-west", report033({ checkpoints: ["eu.safetensors"] }));
    // The US member is a 2-shard pool (docs/capabilities.md §7): a group's member may be sharded.
    await stack().admin("/admin/v1/pools", { name: "dg-us", region: "us-east", shards: 2 });
    const usToken = await stack().admin<{ token: string }>("/admin/v1/runner-tokens", { pool: "dg-us" });
    const us = new CapableRunner(
      stack(),
      usToken.token,
      "dg-us-runner",
      report033({ checkpoints: ["us.safetensors"] }),
    );
    for (const r of [eu, us]) expect(await r.lease()).toBeNull();
    await stack().admin("/admin/v1/pool-groups", { name: "dg", members: [{ pool: "dg-eu" }, { pool: "dg-us" }] });

    // Unknown group: 422 naming default_pool, at create and at PATCH.
    const badCreate = await adminCall(stack(), "POST", "/admin/v1/tenants", {
      name: "dg-x",
      default_pool: "group:nope",
    });
    expect(badCreate.status).toBe(422);
    expect(badCreate.json.error).toMatchObject({ code: "unknown_pool", param: "default_pool" });
    expect(badCreate.json.error.message).toContain("nope");
    const t = await stack().admin<{ id: string; default_pool: string }>("/admin/v1/tenants", { name: "dg-t" });
    const badPatch = await adminCall(stack(), "PATCH", `/admin/v1/tenants/${t.id}`, { default_pool: "group:nope" });
    expect(badPatch.status).toBe(422);
    expect(badPatch.json.error).toMatchObject({ code: "unknown_pool", param: "default_pool" });
    const malformed = await adminCall(stack(), "PATCH", `/admin/v1/tenants/${t.id}`, { default_pool: "group:" });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error.param).toBe("default_pool");

    const patched = await adminCall(stack(), "PATCH", `/admin/v1/tenants/${t.id}`, { default_pool: "group:dg" });
    expect(patched.status).toBe(200);
    expect(patched.json.default_pool).toBe("group:dg");
    const key = await stack().admin<{ key: string }>("/admin/v1/keys", { tenant_id: t.id, scopes: ["jobs"] });
    const call = api(stack(), key.key);

    // No `pool` in the body: the group routes the job to the member whose runner has its checkpoint.
    const job = await call("/v1/jobs", { body: { workflow: txt2img("us.safetensors") } });
    expect(job.status).toBe(202);
    const view = await call(`/v1/jobs/${job.json.id}`);
    expect(view.json).toMatchObject({ pool: "dg-us", pool_group: "dg", region: "us-east" });
    const grant = await us.lease(5);
    expect(grant?.job.id).toBe(job.json.id);

    // A model no member has: the nearest member's 422, as for a job naming the group.
    const none = await call("/v1/jobs", { body: { workflow: txt2img("zzz.safetensors") } });
    expect(none.status).toBe(422);
    expect(none.json.error.code).toBe("model_not_available");
  });
});
