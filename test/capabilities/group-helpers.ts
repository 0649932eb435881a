/** Pool-group test helpers: pools with regions, a runner per pool, and submits carrying a `request.cf`. */
import type { Workflow } from "@comfy-edge/shared/contract/jobs";
import type { CapabilityReport } from "@comfy-edge/shared/contract/runner";
import type { Stack } from "../harness/stack.ts";
import { CapableRunner } from "./helpers.ts";

export async function poolWithRunner(
  stack: Stack,
  name: string,
  region: string,
  report: CapabilityReport,
): Promise<CapableRunner> {
  await stack.admin("/admin/v1/pools", { name, region });
  const { token } = await stack.admin<{ token: string }>("/admin/v1/runner-tokens", { pool: name });
  return new CapableRunner(stack, token, `${name}-runner`, report);
}

/** POST /v1/jobs as if from a Cloudflare data centre (`request.cf`). */
export async function submitFrom(
  stack: Stack,
  key: string,
  cf: Record<string, string>,
  body: { workflow: Workflow; pool: string; max_wait_s?: number },
) {
  const res = await stack.mf.dispatchFetch(`${stack.url}/v1/jobs`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    cf,
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** Calls the admin API and returns status and body (no throw: for the error cases). */
export async function adminCall(stack: Stack, method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : null) as Record<string, any> };
}
