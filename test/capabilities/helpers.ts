/** A runner that speaks the capability protocol over HTTP, driven step by step by the test. */
import { reportDigest } from "@comfy-edge/shared/capabilities/build";
import type { CapabilityReport, LeaseGrant } from "@comfy-edge/shared/contract/runner";
import { expect } from "vitest";
import type { Stack } from "../harness/stack.ts";

export class CapableRunner {
  private digest = "";
  readonly stack: Stack;
  readonly token: string;
  readonly id: string;
  readonly report: CapabilityReport;
  constructor(stack: Stack, token: string, id: string, report: CapabilityReport) {
    this.stack = stack;
    this.token = token;
    this.id = id;
    this.report = report;
  }

  async call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${this.stack.url}/runner/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : null) as Record<string, any> };
  }

  async leaseRaw(waitS: number) {
    this.digest ||= await reportDigest(this.report);
    return this.call("POST", "/lease", {
      runner_id: this.id,
      version: "test",
      wait_s: waitS,
      slots: 1,
      capabilities_digest: this.digest,
    });
  }

  /** Lease as the real runner does: on 409 capabilities_required send the report, then lease again. */
  async lease(waitS = 0): Promise<LeaseGrant | null> {
    let res = await this.leaseRaw(waitS);
    if (res.status === 409 && res.json.error.code === "capabilities_required") {
      const put = await this.call("PUT", "/capabilities", { digest: this.digest, report: this.report });
      if (put.status !== 200) throw new Error(`PUT capabilities: ${put.status} ${JSON.stringify(put.json)}`);
      res = await this.leaseRaw(waitS);
    }
    if (res.status === 204) return null;
    if (res.status !== 200) throw new Error(`lease: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json as LeaseGrant;
  }
}

/**
 * Round after round every runner asks once without waiting (at most 30 rounds) until every job of `wanted`
 * (job id -> the checkpoint it needs) was leased; each grant is checked against the runner's report and the
 * job's checkpoint, no job is leased twice, and each job ends at once (`canceled`). Job id -> runner id.
 */
export async function leaseEveryJobOnce(
  runners: CapableRunner[],
  wanted: Map<string, string>,
): Promise<Map<string, string>> {
  const leased = new Map<string, string>();
  for (let round = 0; round < 30 && leased.size < wanted.size; round++) {
    for (const runner of runners) {
      const grant = await runner.lease(0);
      if (!grant) continue;
      const ckpt = (grant.job.workflow["4"]!.inputs as { ckpt_name: string }).ckpt_name;
      expect(runner.report.models.checkpoints).toContain(ckpt);
      expect(wanted.get(grant.job.id)).toBe(ckpt);
      expect(leased.has(grant.job.id)).toBe(false);
      leased.set(grant.job.id, runner.id);
      await runner.call("POST", `/leases/${encodeURIComponent(grant.lease.id)}/events`, { type: "canceled" });
    }
  }
  expect(leased.size).toBe(wanted.size);
  return leased;
}
