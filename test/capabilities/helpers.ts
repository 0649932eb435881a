/** A runner that speaks the capability protocol over HTTP, driven step by step by the test. */
import { reportDigest } from "@comfy-edge/shared/capabilities/build";
import type { CapabilityReport, LeaseGrant } from "@comfy-edge/shared/contract/runner";
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
