import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../test/harness/stack.ts";
import { isLoopbackUrl } from "./config.ts";

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

describe("comfy-edge CLI: the admin API beyond create/list", () => {
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

  it("updates a tenant's settings and limits, and clears them with none", async () => {
    const tenantId = JSON.parse((await cli("tenants", "create", "--name", "upd", "--json")).stdout).id as string;
    await cli("pools", "create", "--name", "upd-pool");
    const updated = await cli(
      "tenants",
      "update",
      tenantId,
      "--name",
      "renamed",
      "--default-pool",
      "upd-pool",
      "--rpm",
      "30",
      "--max-queued-jobs",
      "5",
      "--image-allowlist",
      "images.example.com,*.cdn.example.com",
      "--cache-all",
      "true",
      "--cors-origins",
      "https://app.example.com,http://localhost:5173",
    );
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toContain(`tenant updated: ${tenantId}\trenamed\tdefault pool upd-pool`);
    const read = await stack.admin<Record<string, any>>(`/admin/v1/tenants/${tenantId}`);
    expect(read).toMatchObject({
      name: "renamed",
      default_pool: "upd-pool",
      image_url_allowlist: ["images.example.com", "*.cdn.example.com"],
      cache_all: true,
      cors_allowed_origins: ["https://app.example.com", "http://localhost:5173"],
    });
    expect(read.limits).toMatchObject({ requests_per_minute: 30, max_queued_jobs: 5 });

    const cleared = await cli("tenants", "update", tenantId, "--max-queued-jobs", "none", "--image-allowlist", "none");
    expect(cleared.code, cleared.stderr).toBe(0);
    const after = JSON.parse((await cli("tenants", "get", tenantId, "--json")).stdout);
    expect(after.limits.max_queued_jobs).toBeNull();
    expect(after.limits.requests_per_minute).toBe(30);
    expect(after.image_url_allowlist).toBeNull();
    expect(after.cors_allowed_origins).toEqual(["https://app.example.com", "http://localhost:5173"]);
    const badOrigin = await cli("tenants", "update", tenantId, "--cors-origins", "app.example.com");
    expect(badOrigin.code).toBe(1);
    expect(badOrigin.stderr).toContain("cors_allowed_origins[0]");

    const nothing = await cli("tenants", "update", tenantId);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("at least one setting");
    const bad = await cli("tenants", "update", tenantId, "--cache-all", "yes");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--cache-all must be true or false (got "yes")');
    const unknownPool = await cli("tenants", "update", tenantId, "--default-pool", "no-such-pool");
    expect(unknownPool.code).toBe(1);
    expect(unknownPool.stderr).toContain("unknown_pool");
  });

  it("rotates a tenant's webhook secret", async () => {
    const created = JSON.parse((await cli("tenants", "create", "--name", "rot", "--json")).stdout);
    const rotated = await cli("tenants", "rotate-webhook-secret", created.id, "--json");
    expect(rotated.code, rotated.stderr).toBe(0);
    const body = JSON.parse(rotated.stdout);
    expect(body.webhook_secret).toMatch(/^whsec_/);
    expect(body.webhook_secret).not.toBe(created.webhook_secret);
    expect(Date.parse(body.previous_secret_expires_at)).toBeGreaterThan(Date.now());
    const human = await cli("tenants", "rotate-webhook-secret", created.id);
    expect(human.stdout).toMatch(/^new webhook secret \(shown once\): whsec_/m);
  });

  it("lists runner tokens (per pool, never the secret) and revokes them", async () => {
    await cli("pools", "create", "--name", "rt-a");
    await cli("pools", "create", "--name", "rt-b");
    const a = JSON.parse((await cli("runner-tokens", "create", "--pool", "rt-a", "--json")).stdout);
    const b = JSON.parse((await cli("runner-tokens", "create", "--pool", "rt-b", "--json")).stdout);
    const all = await cli("runner-tokens", "list");
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain(`${a.id}\trt-a\t`);
    expect(all.stdout).toContain(`${b.id}\trt-b\t`);
    expect(all.stdout).not.toContain(a.token);
    const onlyA = JSON.parse((await cli("runner-tokens", "list", "--pool", "rt-a", "--json")).stdout);
    expect(onlyA.data.map((t: { id: string }) => t.id)).toEqual([a.id]);
    expect(JSON.stringify(onlyA)).not.toContain(a.token);

    expect((await cli("runner-tokens", "revoke", a.id)).stdout).toContain(`runner token revoked: ${a.id}`);
    expect((await cli("runner-tokens", "list", "--pool", "rt-a")).stdout).toMatch(/\trevoked \d{4}-/);
    const lease = await fetch(`${stack.url}/runner/v1/lease`, {
      method: "POST",
      headers: { authorization: `Bearer ${a.token}`, "content-type": "application/json" },
      body: JSON.stringify({ runner_id: "x", version: "t", wait_s: 0 }),
    });
    expect(lease.status).toBe(401);
    const missing = await cli("runner-tokens", "revoke");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("runner-tokens revoke needs the runner-token id");
  });
});

describe("comfy-edge CLI: the local admin token stays local", () => {
  let stack: Stack;
  let dir: string;
  const run = async (env: NodeJS.ProcessEnv, ...args: string[]) => {
    try {
      const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { env, cwd: dir });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const base = () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.COMFY_EDGE_ADMIN_TOKEN;
    delete env.COMFY_EDGE_URL;
    return env;
  };

  beforeAll(async () => {
    stack = await startStack();
    dir = mkdtempSync(join(tmpdir(), "cli-devvars-"));
    writeFileSync(join(dir, ".dev.vars"), `ADMIN_TOKEN="${stack.adminToken}"\nSIGNING_SECRET="x"\n`);
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("uses ./.dev.vars for a gateway on this machine", async () => {
    const local = await run({ ...base(), COMFY_EDGE_URL: stack.url }, "tenants", "list");
    expect(local.code, local.stderr).toBe(0);
    const port = new URL(stack.url).port;
    const viaLocalhost = await run({ ...base(), COMFY_EDGE_URL: `http://localhost:${port}` }, "tenants", "list");
    expect(viaLocalhost.code, viaLocalhost.stderr).toBe(0);
  });

  it("never sends it to a remote COMFY_EDGE_URL, and refuses before any request", async () => {
    const requests: string[] = [];
    const server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
      res.writeHead(200, { "content-type": "application/json" }).end('{"data": []}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      // Names that look local but are not (a DNS name may point anywhere), and a documentation address.
      for (const url of [
        "https://gateway.example.com",
        `http://127.0.0.1.nip.io:${port}`,
        `http://localhost.example.com:${port}`,
        "http://192.0.2.1:8787",
      ]) {
        const remote = await run({ ...base(), COMFY_EDGE_URL: url }, "tenants", "list");
        expect(remote.code, url).toBe(2);
        expect(remote.stderr).toContain(`COMFY_EDGE_ADMIN_TOKEN is required for ${url}`);
        expect(remote.stderr).not.toContain(stack.adminToken);
      }
      // With the token given explicitly, a remote gateway is fine.
      const explicit = await run(
        { ...base(), COMFY_EDGE_URL: `http://127.0.0.1:${port}`, COMFY_EDGE_ADMIN_TOKEN: "given" },
        "tenants",
        "list",
      );
      expect(explicit.code, explicit.stderr).toBe(0);
      expect(requests).toEqual(["GET /admin/v1/tenants Bearer given"]);
    } finally {
      server.close();
    }
  });

  it("does not follow a redirect with the token", async () => {
    const seen: string[] = [];
    const target = createServer((req, res) => {
      seen.push(req.headers.authorization ?? "none");
      res.writeHead(200, { "content-type": "application/json" }).end('{"data": []}');
    });
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    const targetPort = (target.address() as AddressInfo).port;
    const redirector = createServer((_req, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${targetPort}/admin/v1/tenants` }).end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
    const port = (redirector.address() as AddressInfo).port;
    try {
      const res = await run({ ...base(), COMFY_EDGE_URL: `http://127.0.0.1:${port}` }, "tenants", "list");
      expect(res.code).toBe(1);
      expect(res.stderr).toContain("answered with a redirect");
      expect(seen).toEqual([]);
    } finally {
      redirector.close();
      target.close();
    }
  });
});

describe("isLoopbackUrl", () => {
  it("accepts only this machine's addresses", () => {
    for (const url of [
      "http://127.0.0.1:8787",
      "http://127.1.2.3",
      "http://localhost:1",
      "http://[::1]:8787",
      "http://a.localhost",
    ]) {
      expect(isLoopbackUrl(url), url).toBe(true);
    }
    for (const url of [
      "https://comfy-edge.example.com",
      "http://10.0.0.1",
      "http://[::ffff:7f00:1]",
      "http://127.0.0.1.nip.io",
      "http://localhost.example.com",
      "not a url",
    ]) {
      expect(isLoopbackUrl(url), url).toBe(false);
    }
  });
});
