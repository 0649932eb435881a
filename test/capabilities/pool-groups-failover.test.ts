/**
 * Pool-group failover (docs/capabilities.md "Regions and failover") with short runner liveness
 * (RUNNER_LIVE_S=2), leases (LEASE_DURATION_S=4) and dispatch re-sends (DISPATCH_RESEND_S=2): a job whose
 * runner is lost is re-queued and moves to the other member, a job waiting in a member whose runners went
 * away moves on its dispatch re-send, and new submits go to the member that still has a live runner.
 */

import type { LeaseGrant } from "@comfy-edge/shared/contract/runner";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { report033, txt2img } from "./fixtures.ts";
import { poolWithRunner, submitFrom } from "./group-helpers.ts";
import type { CapableRunner } from "./helpers.ts";

/** Leases in short long-polls (each keeps the runner live) until it is granted a job. */
async function leaseUntilGranted(runner: CapableRunner): Promise<LeaseGrant> {
  for (;;) {
    const grant = await runner.lease(1);
    if (grant) return grant;
  }
}

describe("pool-group failover", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ vars: { RUNNER_LIVE_S: "2", LEASE_DURATION_S: "4", DISPATCH_RESEND_S: "2" } });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it("a job whose runner is lost moves to the other member; new jobs fail over while the near member has no live runner", async () => {
    const eu = await poolWithRunner(stack, "f-eu", "eu-west", report033());
    const us = await poolWithRunner(stack, "f-us", "us-east", report033());
    await stack.admin("/admin/v1/pool-groups", { name: "f", members: [{ pool: "f-eu" }, { pool: "f-us" }] });
    expect(await eu.lease()).toBeNull();
    expect(await us.lease()).toBeNull();
    const { key } = await tenantWithKey(stack);
    const fromEu = { continent: "EU", colo: "FRA" };
    const job = await submitFrom(stack, key, fromEu, { workflow: txt2img(), pool: "group:f" });
    expect([job.status, job.json.pool, job.json.region]).toEqual([202, "f-eu", "eu-west"]);

    // The EU runner takes it and is never heard of again; the US runner keeps asking for work.
    const first = await eu.lease(5);
    expect(first?.job.id).toBe(job.json.id);
    const moved = await leaseUntilGranted(us);
    expect(moved.job.id).toBe(job.json.id);
    expect(moved.lease.attempt).toBe(2);
    const client = api(stack, key);
    const view = await client(`/v1/jobs/${job.json.id}`);
    expect([view.json.status, view.json.pool, view.json.pool_group, view.json.region, view.json.attempt]).toEqual([
      "running",
      "f-us",
      "f",
      "us-east",
      2,
    ]);
    // Its events say so (the stream stays open while the job runs: read until the move is there).
    const res = await fetch(`${stack.url}/v1/jobs/${job.json.id}/events`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("moved from pool")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    expect(text).toContain("moved from pool f-eu to f-us");

    // The EU pool has no live runner now: a job from Europe goes to the US member (once this data centre's
    // few-second cache of the members' load has expired).
    await expect
      .poll(
        async () => {
          await us.lease(0); // stays live
          const next = await submitFrom(stack, key, fromEu, { workflow: txt2img(), pool: "group:f" });
          if (next.json.pool === "f-eu") await client(`/v1/jobs/${next.json.id}/cancel`, { body: {} });
          return next.json.pool;
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe("f-us");
  });
  it("a job waiting in a member whose runners went away moves on its dispatch re-send", async () => {
    const eu = await poolWithRunner(stack, "s-eu", "eu-west", report033());
    const us = await poolWithRunner(stack, "s-us", "us-east", report033());
    await stack.admin("/admin/v1/pool-groups", { name: "s", members: [{ pool: "s-eu" }, { pool: "s-us" }] });
    expect(await eu.lease()).toBeNull();
    expect(await us.lease()).toBeNull();
    const { key } = await tenantWithKey(stack);
    const job = await submitFrom(
      stack,
      key,
      { continent: "EU", colo: "FRA" },
      { workflow: txt2img(), pool: "group:s" },
    );
    expect([job.status, job.json.pool]).toEqual([202, "s-eu"]);
    // The EU runner never asks again; the job, never leased, is re-sent and finds s-eu without a live runner.
    const grant = await leaseUntilGranted(us);
    expect([grant.job.id, grant.lease.attempt]).toEqual([job.json.id, 1]);
    const client = api(stack, key);
    const view = await client(`/v1/jobs/${job.json.id}`);
    expect([view.json.pool, view.json.region]).toEqual(["s-us", "us-east"]);
    // It left the old member's queue.
    expect((await client("/v1/pools/s-eu")).json.queued).toBe(0);
  });
});
