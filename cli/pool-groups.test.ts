import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../test/harness/stack.ts";
import { parseMembers } from "./pool-groups.ts";

const exec = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "bin", "comfy-edge.mjs");

describe("comfy-edge pool-groups", () => {
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

  it("parses pool[@region][:weight] lists", () => {
    expect(parseMembers("gpu-eu@eu-west:3, gpu-us")).toEqual([
      { pool: "gpu-eu", region: "eu-west", weight: 3 },
      { pool: "gpu-us" },
    ]);
    expect(() => parseMembers("a@b@c")).toThrow(/pool\[@region\]\[:weight\]/);
  });

  it("creates, lists, updates and deletes a group, sets a tenant's affinity, and reports API errors", async () => {
    await stack.admin("/admin/v1/pools", { name: "cg-eu", region: "eu-west" });
    await stack.admin("/admin/v1/pools", { name: "cg-us" });
    const created = await cli(
      "pool-groups",
      "create",
      "--name",
      "cg",
      "--members",
      "cg-eu,cg-us@us-east:2",
      "--max-wait-s",
      "30",
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("pool group created: cg: cg-eu@eu-west:1, cg-us@us-east:2; max_wait_s 30");
    expect((await cli("pool-groups", "list")).stdout).toContain("cg: cg-eu@eu-west:1");
    const updated = await cli("pool-groups", "update", "cg", "--max-wait-s", "none", "--json");
    expect(JSON.parse(updated.stdout).max_wait_s).toBeNull();
    const bad = await cli("pool-groups", "create", "--name", "cg2", "--members", "cg-eu,nope");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("unknown_pool");
    const tenant = await stack.admin<{ id: string }>("/admin/v1/tenants", { name: `cg-${crypto.randomUUID()}` });
    expect((await cli("pool-groups", "region", "--tenant", tenant.id, "eu-west")).stdout).toContain(
      "region affinity eu-west",
    );
    expect((await cli("pool-groups", "region", "--tenant", tenant.id)).stdout).toContain("region affinity eu-west");
    expect((await cli("pool-groups", "delete", "cg")).stdout).toContain("pool group deleted: cg");
    expect((await cli("pool-groups", "get", "cg")).stderr).toContain("pool_group_not_found");
  });
});
