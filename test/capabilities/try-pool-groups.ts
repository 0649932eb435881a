/**
 * Operator check of pool groups against a real ComfyUI (default http://127.0.0.1:8188; COMFYUI_URL to
 * change): the local stack (Miniflare, the repo's wrangler.toml), two pools in two regions set up with the
 * CLI, a pool group over them, and two real runner processes (`comfy-edge runner`) pointed at the same
 * ComfyUI. A small job to the group goes to the member nearest the request (Miniflare's request.cf is
 * Dallas, NA, so the us-east pool); the us runner is killed; once its liveness lapses (RUNNER_LIVE_S=5 here)
 * the next job goes to the eu-west pool and runs. GET /v1/pools/:name shows both. Not part of `npm test`.
 *
 *   node test/capabilities/try-pool-groups.ts
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { api } from "../harness/api.ts";
import { startStack } from "../harness/stack.ts";

const exec = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "..", "bin", "comfy-edge.mjs");
const comfyUrl = process.env.COMFYUI_URL ?? "http://127.0.0.1:8188";
const SMALL = {
  "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 1234 } },
  "9": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "pool-groups-check" } },
};

const stack = await startStack({ vars: { RUNNER_LIVE_S: "5", LEASE_DURATION_S: "15" } });
const env = { ...process.env, COMFY_EDGE_URL: stack.url, COMFY_EDGE_ADMIN_TOKEN: stack.adminToken };
const cli = async (...args: string[]) => {
  const { stdout } = await exec(process.execPath, [BIN, ...args], { env });
  console.log(`$ comfy-edge ${args.join(" ")}\n${stdout.trim()}`);
  return stdout;
};
const runners: ChildProcess[] = [];
try {
  await cli("pools", "create", "--name", "op-eu", "--region", "eu-west");
  await cli("pools", "create", "--name", "op-us", "--region", "us-east");
  const token = async (pool: string) =>
    JSON.parse(await cli("runner-tokens", "create", "--pool", pool, "--json")).token as string;
  const start = async (pool: string, port: number) => {
    const child = spawn(process.execPath, [BIN, "runner"], {
      env: {
        ...process.env,
        GATEWAY_URL: stack.url,
        RUNNER_TOKEN: await token(pool),
        COMFYUI_URL: comfyUrl,
        RUNNER_ID: `${pool}-runner`,
        METRICS_PORT: String(port),
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    runners.push(child);
    return child;
  };
  await start("op-eu", 19471);
  const us = await start("op-us", 19472);
  await cli("pool-groups", "create", "--name", "op", "--members", "op-eu,op-us", "--max-wait-s", "120");
  const tenant = JSON.parse(await cli("tenants", "create", "--name", `op-${Date.now()}`, "--json"));
  const key = /API key \(shown once, store it now\): (ce_sk_\S+)/.exec(
    await cli("keys", "create", "--tenant", tenant.id, "--scopes", "jobs"),
  )?.[1];
  assert.ok(key);
  const client = api(stack, key);
  const live = async (pool: string) => (await client(`/v1/pools/${pool}`)).json.runners as number;
  for (let i = 0; (await live("op-eu")) < 1 || (await live("op-us")) < 1; i++) {
    if (i > 300) throw new Error("the runners did not start leasing");
    await new Promise((r) => setTimeout(r, 200));
  }
  const run = async () => {
    const res = await client("/v1/jobs", {
      // cache: false: every job runs (a deterministic graph would be answered from the output cache).
      body: { workflow: SMALL, pool: "group:op", cache: false },
      headers: { Prefer: "wait=60" },
    });
    console.log(
      `job ${res.json.id}: ${res.json.status} on pool ${res.json.pool} (${res.json.region}), group ${res.json.pool_group}`,
    );
    return res.json;
  };
  const first = await run();
  assert.equal(first.status, "succeeded");
  assert.equal(first.pool, "op-us");

  us.kill("SIGKILL");
  console.log("killed the op-us runner; waiting for its liveness to lapse");
  let second: Record<string, unknown> | null = null;
  const stranded: string[] = [];
  for (let i = 0; i < 60 && second?.pool !== "op-eu"; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    if ((await live("op-us")) === 0) second = await run();
    if (second && second.pool !== "op-eu") stranded.push(String(second.id));
  }
  assert.equal(second?.pool, "op-eu");
  assert.equal(second?.status, "succeeded");
  // A job sent to op-us before the group saw the runner gone (e.g. granted to the dead runner's open long
  // poll) is re-queued when its lease expires (LEASE_DURATION_S=15 here) and moves to op-eu.
  for (const id of stranded) {
    let view = (await client(`/v1/jobs/${id}`, { headers: { Prefer: "wait=60" } })).json;
    for (let i = 0; i < 5 && view.status !== "succeeded"; i++)
      view = (await client(`/v1/jobs/${id}`, { headers: { Prefer: "wait=60" } })).json;
    console.log(`job ${id}: ${view.status} on pool ${view.pool} (${view.region}), attempt ${view.attempt}`);
    assert.equal(view.status, "succeeded");
    assert.equal(view.pool, "op-eu");
  }
  const view = (await client("/v1/pools/op-eu")).json;
  console.log("GET /v1/pools/op-eu:", JSON.stringify(view));
  console.log("ok");
} finally {
  for (const r of runners) r.kill("SIGTERM");
  await stack.close();
}
