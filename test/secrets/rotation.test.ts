/**
 * Secret rotation without downtime (SIGNING_SECRET and WEBHOOK_SECRET_KEY key rings) and webhook secrets
 * encrypted at rest, on the real stack restarted with each configuration an operator would deploy.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, ensurePool, runnerToken, ScriptedRunner, TRIVIAL_WORKFLOW, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { type Receiver, startReceiver } from "../webhooks/receiver.ts";

const secret = () => randomBytes(32).toString("base64url");
const S1 = secret();
const S2 = secret();
const K1 = secret();
const K2 = secret();
const ADMIN = `adm_${randomBytes(12).toString("hex")}`;

function verify(whsec: string, r: { body: string; headers: Record<string, string> }) {
  return new Webhook(whsec).verify(r.body, {
    "webhook-id": r.headers["webhook-id"]!,
    "webhook-timestamp": r.headers["webhook-timestamp"]!,
    "webhook-signature": r.headers["webhook-signature"]!,
  });
}

describe("secret rotation", () => {
  const dir = mkdtempSync(join(tmpdir(), "comfy-edge-rotation-"));
  let stack: Stack;
  let receiver: Receiver;

  async function boot(signingSecret: string, webhookSecretKey: string) {
    await stack?.close();
    stack = await startStack({
      persistDir: dir,
      secrets: { adminToken: ADMIN, signingSecret, webhookSecretKey },
      vars: { ALLOW_PRIVATE_URLS: "true" },
    });
  }

  interface TenantSecretRow {
    id: string;
    webhook_secret: string;
    webhook_secret_previous: string | null;
  }

  async function tenantRows(): Promise<TenantSecretRow[]> {
    const db = await stack.mf.getD1Database("DB", "comfy-edge-gateway");
    return (await db.prepare("SELECT id, webhook_secret, webhook_secret_previous FROM tenants").all<TenantSecretRow>())
      .results;
  }

  /** Runs one job with a webhook to the receiver; returns its signed `job.succeeded` delivery. */
  async function deliveredJob(key: string, token: string) {
    const runner = new ScriptedRunner(stack, token);
    const job = (
      await api(stack, key)("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, webhook: { url: receiver.url } } })
    ).json;
    const grant = await runner.lease(5);
    expect(grant?.job.id).toBe(job.id);
    await runner.event(grant!.lease.id, {
      type: "failed",
      error: { code: "execution_error", message: "x", node_id: "2" },
    });
    const got = await receiver.waitFor((r) => r.some((x) => x.json.data.id === job.id && x.json.type === "job.failed"));
    return got.find((x) => x.json.data.id === job.id && x.json.type === "job.failed")!;
  }

  beforeAll(async () => {
    receiver = await startReceiver();
    await boot(S1, K1);
    await ensurePool(stack, "local");
  }, 60_000);
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores webhook secrets encrypted; deliveries still verify with standardwebhooks, plaintext rows too", async () => {
    const t = await tenantWithKey(stack);
    const token = await runnerToken(stack, "local");
    expect(t.webhook_secret).toMatch(/^whsec_/);
    const rows = await tenantRows();
    expect(JSON.stringify(rows)).not.toContain("whsec_");
    expect(rows.find((r) => r.id === t.id)!.webhook_secret).toMatch(/^enc:v1:/);
    expect(verify(t.webhook_secret, await deliveredJob(t.key, token))).toBeTruthy();

    // A row written before encryption (plain text) keeps working, and a rotation seals both secrets.
    const db = await stack.mf.getD1Database("DB", "comfy-edge-gateway");
    await db.prepare("UPDATE tenants SET webhook_secret = ? WHERE id = ?").bind(t.webhook_secret, t.id).run();
    expect(verify(t.webhook_secret, await deliveredJob(t.key, token))).toBeTruthy();
    const rotated = await stack.admin<{ webhook_secret: string }>(
      `/admin/v1/tenants/${t.id}/webhook-secret/rotate`,
      {},
    );
    const row = (await tenantRows()).find((r) => r.id === t.id)!;
    expect(row.webhook_secret).toMatch(/^enc:v1:/);
    expect(row.webhook_secret_previous).toMatch(/^enc:v1:/);
    expect(JSON.stringify(row)).not.toContain("whsec_");
    const after = await deliveredJob(t.key, token);
    expect(verify(rotated.webhook_secret, after)).toBeTruthy();
    expect(verify(t.webhook_secret, after)).toBeTruthy();
  }, 60_000);

  it("keeps keys, runner tokens, leases and webhook secrets working through a rotation of both secrets", async () => {
    const before = await tenantWithKey(stack);
    const token = await runnerToken(stack, "local");
    const runner = new ScriptedRunner(stack, token);
    const job = (await api(stack, before.key)("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } })).json;
    const grant = await runner.lease(5);
    expect(grant?.job.id).toBe(job.id);

    // Step 1 of a rotation: new secrets first, the old ones kept as previous.
    await boot(`${S2},${S1}`, `${K2},${K1}`);
    expect((await api(stack, before.key)("/v1/me")).status).toBe(200);
    const resumed = new ScriptedRunner(stack, token);
    expect((await resumed.heartbeat(grant!.lease.id)).status).toBe(200);
    await resumed.event(grant!.lease.id, {
      type: "failed",
      error: { code: "execution_error", message: "x", node_id: "2" },
    });
    expect(verify(before.webhook_secret, await deliveredJob(before.key, token))).toBeTruthy();
    const after = await tenantWithKey(stack);
    const newToken = await runnerToken(stack, "local");
    // Re-encrypt the stored webhook secrets with the new key; tenants keep their secrets.
    const resealed = await stack.admin<{ tenants: number; resealed: number }>("/admin/v1/secrets/reseal", {});
    expect(resealed.resealed).toBeGreaterThanOrEqual(2);
    expect(await stack.admin("/admin/v1/secrets/reseal", {})).toEqual({ tenants: resealed.tenants, resealed: 0 });

    // Step 2: the old secrets removed. What they signed is refused; everything issued since works.
    await boot(S2, K2);
    const refused = await api(stack, before.key)("/v1/me");
    expect(refused.status).toBe(401);
    expect(refused.json.error.code).toBe("invalid_api_key");
    expect((await api(stack, after.key)("/v1/me")).status).toBe(200);
    expect((await new ScriptedRunner(stack, token).lease(0).catch((e: Error) => e.message)) as string).toMatch(/401/);
    expect(verify(after.webhook_secret, await deliveredJob(after.key, newToken))).toBeTruthy();
    const keyOfBefore = (
      await stack.admin<{ key: string }>("/admin/v1/keys", { tenant_id: before.id, scopes: ["jobs"] })
    ).key;
    expect(verify(before.webhook_secret, await deliveredJob(keyOfBefore, newToken))).toBeTruthy();
  }, 120_000);
});
