import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../test/harness/stack.ts";

const exec = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "bin", "comfy-edge.mjs");

describe("comfy-edge CLI against the local stack", () => {
  let stack: Stack;
  let env: NodeJS.ProcessEnv;
  const cli = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { env, cwd: "/" });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  beforeAll(async () => {
    stack = await startStack();
    env = { ...process.env, COMFY_EDGE_URL: stack.url, COMFY_EDGE_ADMIN_TOKEN: stack.adminToken };
  }, 60_000);
  afterAll(() => stack?.close());

  it("creates a tenant, a pool, a key and a runner token; the key works until revoked", async () => {
    const tenant = await cli("tenants", "create", "--name", "cli-co", "--json");
    expect(tenant.code).toBe(0);
    const tenantId = JSON.parse(tenant.stdout).id as string;
    expect((await cli("pools", "create", "--name", "cli-pool", "--tenants", tenantId)).stdout).toContain(
      "pool created: cli-pool",
    );

    const created = await cli("keys", "create", "--tenant", tenantId, "--scopes", "jobs", "--rpm", "100");
    expect(created.code).toBe(0);
    const key = /API key \(shown once, store it now\): (ce_sk_\S+)/.exec(created.stdout)?.[1];
    const keyId = /key created: (key_\S+)/.exec(created.stdout)?.[1];
    expect(key).toBeDefined();
    const pools = await fetch(`${stack.url}/v1/pools`, { headers: { authorization: `Bearer ${key}` } });
    expect(pools.status).toBe(200);
    expect(((await pools.json()) as { data: Array<{ name: string }> }).data.map((p) => p.name)).toContain("cli-pool");

    const listed = await cli("keys", "list", "--tenant", tenantId);
    expect(listed.stdout).toContain(keyId);
    expect(listed.stdout).not.toContain(key);

    expect((await cli("keys", "revoke", keyId!)).stdout).toContain(`key revoked: ${keyId}`);
    const after = await fetch(`${stack.url}/v1/pools`, { headers: { authorization: `Bearer ${key}` } });
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: { code: string } }).error.code).toBe("revoked_api_key");

    const rt = await cli("runner-tokens", "create", "--pool", "cli-pool");
    expect(rt.stdout).toMatch(/RUNNER_TOKEN \(shown once\): ce_rt_/);
  });

  it("explains bad usage, API errors and missing configuration", async () => {
    const usage = await cli("keys", "create");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--tenant is required");
    const apiErr = await cli("keys", "create", "--tenant", "ten_nope");
    expect(apiErr.code).toBe(1);
    expect(apiErr.stderr).toContain("unknown_tenant");
    env = { ...env, COMFY_EDGE_ADMIN_TOKEN: "" };
    const noToken = await cli("tenants", "list");
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain("COMFY_EDGE_ADMIN_TOKEN");
    env = { ...env, COMFY_EDGE_ADMIN_TOKEN: stack.adminToken };
  });
});
