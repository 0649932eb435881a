/**
 * The OpenAPI document against the running gateway: real responses of every operation (successes and
 * the errors a client meets: bad JSON, wrong content type, too large, unknown ids, conflicts, missing
 * credentials, scopes) must each be documented: status, media type, body schema and headers
 * (test/openapi/contract.ts). Any drift between code and document fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exerciseRunnerCapabilities } from "../capabilities/openapi-calls.ts";
import { ensurePool, runnerToken, ScriptedRunner, TRIVIAL_WORKFLOW } from "../harness/api.ts";
import { type LlmStack, startLlmStack } from "../llm/fixtures.ts";
import { ContractChecker } from "./contract.ts";
import { exerciseLlmProxy } from "./llm-calls.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5]);

interface Call {
  token?: string | null;
  body?: unknown;
  raw?: BodyInit;
  headers?: Record<string, string>;
}

describe("OpenAPI document vs real responses", () => {
  let s: LlmStack;
  let checker: ContractChecker;
  let admin: string;
  const problems: string[] = [];

  beforeAll(async () => {
    s = await startLlmStack();
    admin = s.stack.adminToken;
    checker = await ContractChecker.load(s.stack.url);
  }, 60_000);
  afterAll(() => s?.close());

  /** Calls `url` (default: the template) and records every way the answer departs from the document. */
  async function call(method: string, template: string, options: Call & { url?: string } = {}) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body = options.raw;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(`${s.stack.url}${options.url ?? template}`, { method, headers, body }).catch((err) => {
      throw new Error(`${method} ${options.url ?? template}: ${err}`, { cause: err });
    });
    const text = await res.text();
    problems.push(...checker.check({ method, path: template, status: res.status, headers: res.headers, body: text }));
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json, headers: res.headers };
  }

  it("documents every status, media type, body and header the gateway answers with", async () => {
    // Meta
    await call("GET", "/health");
    await call("GET", "/openapi.json");
    await call("GET", "/docs");
    const shell = (await call("GET", "/console")).json as string;
    for (const file of shell.match(/console-[0-9a-f]+\.(js|css)/g) ?? []) {
      await call("GET", "/console/assets/{file}", { url: `/console/assets/${file}` });
    }
    await call("GET", "/console/assets/{file}", { url: "/console/assets/console-000000000000.js" });

    // Admin
    const tenant = (await call("POST", "/admin/v1/tenants", { token: admin, body: { name: "oa" } })).json;
    await call("POST", "/admin/v1/tenants", { token: admin, body: { name: 5 } });
    await call("POST", "/admin/v1/tenants", {
      token: admin,
      raw: "{",
      headers: { "content-type": "application/json" },
    });
    await call("POST", "/admin/v1/tenants", { token: admin, raw: "name=x", headers: { "content-type": "text/plain" } });
    await call("POST", "/admin/v1/tenants", { body: { name: "x" } });
    await call("GET", "/admin/v1/tenants", { token: admin });
    await call("GET", "/admin/v1/tenants/{id}", { token: admin, url: `/admin/v1/tenants/${tenant.id}` });
    await call("GET", "/admin/v1/tenants/{id}", { token: admin, url: "/admin/v1/tenants/ten_nope" });
    await call("PATCH", "/admin/v1/tenants/{id}", {
      token: admin,
      url: `/admin/v1/tenants/${tenant.id}`,
      body: { limits: { max_queued_jobs: 50 } },
    });
    await call("PATCH", "/admin/v1/tenants/{id}", {
      token: admin,
      url: `/admin/v1/tenants/${tenant.id}`,
      body: { default_pool: "no-such-pool" },
    });
    await call("POST", "/admin/v1/tenants/{id}/webhook-secret/rotate", {
      token: admin,
      url: `/admin/v1/tenants/${tenant.id}/webhook-secret/rotate`,
    });
    await call("POST", "/admin/v1/pools", { token: admin, body: { name: "oa-pool" } });
    await call("POST", "/admin/v1/pools", { token: admin, body: { name: "oa-pool" } });
    await call("POST", "/admin/v1/pools", { token: admin, body: { name: "Bad Name" } });
    await call("GET", "/admin/v1/pools", { token: admin });
    await call("POST", "/admin/v1/secrets/reseal", { token: admin });
    await call("GET", "/admin/v1/pools/{name}", { token: admin, url: "/admin/v1/pools/oa-pool" });
    await call("GET", "/admin/v1/pools/{name}", { token: admin, url: "/admin/v1/pools/nope" });
    await call("PATCH", "/admin/v1/pools/{name}", {
      token: admin,
      url: "/admin/v1/pools/oa-pool",
      body: { region: "eu" },
    });
    await call("PATCH", "/admin/v1/pools/{name}", {
      token: admin,
      url: "/admin/v1/pools/oa-pool",
      body: { tenants: ["ten_nope"] },
    });
    await ensurePool(s.stack, "local");
    const jobsKey = (
      await call("POST", "/admin/v1/keys", { token: admin, body: { tenant_id: tenant.id, scopes: ["jobs", "llm"] } })
    ).json;
    const llmKey = (
      await call("POST", "/admin/v1/keys", { token: admin, body: { tenant_id: tenant.id, scopes: ["llm"] } })
    ).json;
    await call("POST", "/admin/v1/keys", { token: admin, body: { tenant_id: "ten_nope", scopes: ["llm"] } });
    await call("GET", "/admin/v1/keys", { token: admin, url: `/admin/v1/keys?tenant_id=${tenant.id}` });
    const spare = (
      await call("POST", "/admin/v1/keys", { token: admin, body: { tenant_id: tenant.id, scopes: ["llm"] } })
    ).json;
    await call("DELETE", "/admin/v1/keys/{id}", { token: admin, url: `/admin/v1/keys/${spare.id}` });
    await call("DELETE", "/admin/v1/keys/{id}", { token: admin, url: "/admin/v1/keys/key_nope" });
    const rt = (await call("POST", "/admin/v1/runner-tokens", { token: admin, body: { pool: "local" } })).json;
    await call("POST", "/admin/v1/runner-tokens", { token: admin, body: { pool: "nope" } });
    const spareRt = (await call("POST", "/admin/v1/runner-tokens", { token: admin, body: { pool: "local" } })).json;
    await call("DELETE", "/admin/v1/runner-tokens/{id}", {
      token: admin,
      url: `/admin/v1/runner-tokens/${spareRt.id}`,
    });
    await call("GET", "/admin/v1/runner-tokens", { token: admin, url: "/admin/v1/runner-tokens?pool=local" });
    await call("GET", "/admin/v1/runner-tokens", { token: admin, url: "/admin/v1/runner-tokens?color=blue" });

    // Account, pools, usage, models
    const key = jobsKey.key as string;
    await call("GET", "/v1/me", { token: key });
    await call("GET", "/v1/me");
    await call("GET", "/v1/me", { token: "ce_sk_notavalidkey000000000000000000" });
    await call("GET", "/v1/pools", { token: key });
    await call("GET", "/v1/pools", { token: llmKey.key });
    // Capabilities (docs/capabilities.md): a report stored but leased with by no runner changes nothing below.
    await call("GET", "/v1/pools/{name}/capabilities", { token: key, url: "/v1/pools/local/capabilities" });
    await call("GET", "/v1/pools/{name}/capabilities", { token: key, url: "/v1/pools/nope/capabilities" });
    await call("GET", "/admin/v1/pools/{name}/metrics", { token: admin, url: "/admin/v1/pools/local/metrics" });
    await call("GET", "/admin/v1/pools/{name}/metrics", { token: admin, url: "/admin/v1/pools/nope/metrics" });
    // Model assets (docs/models.md)
    const manifestBody = {
      models: [
        {
          url: "https://models.example.com/a.safetensors",
          folder: "checkpoints",
          filename: "a.safetensors",
          sha256: "a".repeat(64),
        },
      ],
    };
    const mp = (suffix: string, pool = "oa-pool") => `/admin/v1/pools/${pool}/${suffix}`;
    await call("GET", "/admin/v1/pools/{name}/manifest", { token: admin, url: mp("manifest") });
    await call("PUT", "/admin/v1/pools/{name}/manifest", { token: admin, url: mp("manifest"), body: manifestBody });
    await call("PUT", "/admin/v1/pools/{name}/manifest", { token: admin, url: mp("manifest"), body: { models: 5 } });
    await call("PUT", "/admin/v1/pools/{name}/manifest", {
      token: admin,
      url: mp("manifest", "nope"),
      body: manifestBody,
    });
    await call("GET", "/admin/v1/pools/{name}/manifest", { token: admin, url: mp("manifest") });
    await call("POST", "/admin/v1/pools/{name}/manifest/resync", { token: admin, url: mp("manifest/resync") });
    await call("POST", "/admin/v1/pools/{name}/manifest/resync", { token: admin, url: mp("manifest/resync", "local") });
    await call("GET", "/admin/v1/pools/{name}/models", { token: admin, url: mp("models", "local") });
    await call("GET", "/admin/v1/pools/{name}/models", { token: admin, url: mp("models", "nope") });
    await call("PUT", "/admin/v1/tenants/{id}/model-hosts", {
      token: admin,
      url: `/admin/v1/tenants/${tenant.id}/model-hosts`,
      body: { hosts: ["models.example.com"] },
    });
    await call("PUT", "/admin/v1/tenants/{id}/model-hosts", {
      token: admin,
      url: `/admin/v1/tenants/${tenant.id}/model-hosts`,
      body: { hosts: 5 },
    });
    await call("GET", "/admin/v1/tenants/{id}/model-hosts", {
      token: admin,
      url: `/admin/v1/tenants/${tenant.id}/model-hosts`,
    });
    await call("GET", "/admin/v1/tenants/{id}/model-hosts", {
      token: admin,
      url: "/admin/v1/tenants/ten_nope/model-hosts",
    });
    await call("GET", "/runner/v1/manifest", { token: rt.token });
    await call("GET", "/runner/v1/manifest");
    const modelsReport = {
      runner_id: "oa-models",
      manifest_digest: null,
      state: "synced",
      warmup: { state: "none", seconds: null, error: null },
      files: [],
    };
    await call("PUT", "/runner/v1/manifest/status", { token: rt.token, body: modelsReport });
    await call("PUT", "/runner/v1/manifest/status", { token: rt.token, body: { ...modelsReport, files: 5 } });
    await exerciseRunnerCapabilities(call, rt.token, { admin, key, tenantId: tenant.id, pool: "local" });
    await call("GET", "/v1/usage", { token: key });
    await call("GET", "/v1/usage", { token: key, url: "/v1/usage?from=yesterday" });
    await call("GET", "/v1/usage/stats", { token: key, url: "/v1/usage/stats?window=24h" });
    await call("GET", "/v1/usage/stats", { token: key, url: "/v1/usage/stats?window=7d" });
    await call("GET", "/v1/usage/stats");
    await call("GET", "/admin/v1/stats", { token: admin, url: "/admin/v1/stats?window=1h&route=%2Fv1%2Fme" });
    await call("GET", "/admin/v1/stats", { token: admin, url: "/admin/v1/stats?tenant=-&color=blue" });
    await call("GET", "/admin/v1/stats");
    await call("GET", "/v1/models", { token: key });

    // Files
    await call("POST", "/v1/files", { token: key, body: { content_type: "image/png" } });
    await call("POST", "/v1/files", { token: key, body: { content_type: "text/html" } });
    await call("POST", "/v1/files", {
      token: key,
      raw: "x".repeat(20_000),
      headers: { "content-type": "application/json" },
    });
    await call("POST", "/v1/files", { token: key, raw: "{}", headers: { "content-type": "text/plain" } });

    // Jobs
    const submit = (body: unknown, headers: Record<string, string> = {}) =>
      call("POST", "/v1/jobs", { token: key, body, headers });
    const job = (await submit({ workflow: TRIVIAL_WORKFLOW }, { "Idempotency-Key": "oa-1" })).json;
    await submit({ workflow: TRIVIAL_WORKFLOW }, { "Idempotency-Key": "oa-1" });
    await submit({ workflow: TRIVIAL_WORKFLOW, metadata: { x: "1" } }, { "Idempotency-Key": "oa-1" });
    await submit({ workflow: "abc" });
    await submit({ workflow: { "1": { class_type: "SaveImage", inputs: { images: ["9", 0] } } } });
    await submit({ workflow: TRIVIAL_WORKFLOW, pool: "no-such-pool" });
    await submit({ workflow: TRIVIAL_WORKFLOW, max_wait_s: 1 }); // 503 pool_saturated: no live runner yet
    await call("POST", "/v1/jobs", { token: key, raw: "{}", headers: { "content-type": "text/plain" } });
    await call("POST", "/v1/jobs", { token: llmKey.key, body: { workflow: TRIVIAL_WORKFLOW } });
    await call("GET", "/v1/jobs", { token: key });
    await call("GET", "/v1/jobs", { token: key, url: "/v1/jobs?limit=abc" });
    const jobPath = `/v1/jobs/${job.id}`;
    await call("GET", "/v1/jobs/{id}", { token: key, url: jobPath });
    await call("GET", "/v1/jobs/{id}", { token: key, url: jobPath, headers: { Prefer: "wait=1" } });
    await call("GET", "/v1/jobs/{id}", { token: key, url: "/v1/jobs/job_nope" });
    await call("DELETE", "/v1/jobs/{id}", { token: key, url: jobPath });

    // Runner: lease, heartbeat, upload, events, give back
    const token = rt.token as string;
    const runner = new ScriptedRunner(s.stack, token);
    const lease = await runner.lease();
    expect(lease?.job.id).toBe(job.id);
    const leasePath = `/runner/v1/leases/${lease!.lease.id}`;
    await call("POST", "/runner/v1/leases/{id}/heartbeat", { token, url: `${leasePath}/heartbeat` });
    await call("POST", "/runner/v1/leases/{id}/heartbeat", { url: `${leasePath}/heartbeat` });
    await call("POST", "/runner/v1/leases/{id}/events", {
      token,
      url: `${leasePath}/events`,
      body: { type: "started", prompt_id: "p1" },
    });
    await call("POST", "/runner/v1/leases/{id}/events", {
      token,
      url: `${leasePath}/events`,
      body: {
        type: "succeeded",
        outputs: [{ key: "jobs/x/a1/nope.png", node_id: "9", filename: "x.png", content_type: "image/png" }],
      },
    });
    await call("POST", "/runner/v1/leases/{id}/uploads", {
      token,
      url: `${leasePath}/uploads`,
      body: { filename: "out.png", content_type: "image/png", node_id: "9" },
    });
    const up = await runner.upload(lease!.lease.id, PNG);
    await call("POST", "/runner/v1/leases/{id}/events", {
      token,
      url: `${leasePath}/events`,
      body: { type: "succeeded", outputs: [up.ref] },
    });
    await call("POST", "/runner/v1/leases/{id}/heartbeat", { token, url: `${leasePath}/heartbeat` });
    await call("POST", "/runner/v1/lease", { token, body: { runner_id: "oa", version: "t", wait_s: 0 } });
    await call("POST", "/runner/v1/lease", { token, body: { runner_id: 5 } });

    // The finished job: read, wait, events, outputs, deliveries, cancel, delete
    await call("GET", "/v1/jobs/{id}", { token: key, url: jobPath, headers: { Prefer: "wait=1" } });
    await call("GET", "/v1/jobs/{id}/events", { token: key, url: `${jobPath}/events` });
    await call("GET", "/v1/jobs/{id}/events", {
      token: key,
      url: `${jobPath}/events`,
      headers: { "Last-Event-ID": "2" },
    });
    await call("GET", "/v1/jobs/{id}/outputs/{index}", { token: key, url: `${jobPath}/outputs/0` });
    await call("GET", "/v1/jobs/{id}/outputs/{index}", { token: key, url: `${jobPath}/outputs/3` });
    await call("GET", "/v1/jobs/{id}/webhook-deliveries", { token: key, url: `${jobPath}/webhook-deliveries` });
    await call("POST", "/v1/jobs/{id}/webhook-deliveries/redeliver", {
      token: key,
      url: `${jobPath}/webhook-deliveries/redeliver`,
    });
    await call("POST", "/v1/jobs/{id}/webhook-deliveries/redeliver", {
      token: key,
      url: `${jobPath}/webhook-deliveries/redeliver`,
      body: { event_ids: ["evt_nope"] },
    });
    await call("POST", "/v1/jobs/{id}/cancel", { token: key, url: `${jobPath}/cancel` });
    await call("DELETE", "/v1/jobs/{id}", { token: key, url: jobPath });
    const second = (await submit({ workflow: TRIVIAL_WORKFLOW })).json;
    await call("POST", "/v1/jobs/{id}/cancel", { token: key, url: `/v1/jobs/${second.id}/cancel` });
    const third = (await submit({ workflow: TRIVIAL_WORKFLOW })).json;
    const lease3 = await runner.lease();
    expect(lease3?.job.id).toBe(third.id);
    const cancelWait = `/runner/v1/leases/${lease3!.lease.id}/cancel-wait`;
    const hasCancelWait = "/runner/v1/leases/{id}/cancel-wait" in checker.doc.paths;
    if (hasCancelWait) {
      await call("POST", "/runner/v1/leases/{id}/cancel-wait", { token, url: cancelWait, body: { wait_s: 0 } });
      await call("POST", "/runner/v1/leases/{id}/cancel-wait", { token, url: cancelWait, body: { wait_s: "soon" } });
    }
    await call("DELETE", "/runner/v1/leases/{id}", { token, url: `/runner/v1/leases/${lease3!.lease.id}` });
    if (hasCancelWait) await call("POST", "/runner/v1/leases/{id}/cancel-wait", { token, url: cancelWait });
    await call("POST", "/v1/jobs/{id}/cancel", { token: key, url: `/v1/jobs/${third.id}/cancel` });

    // Templates (after the last lease above: runs queue jobs)
    const tpl = (method: string, template: string, options: Call & { url?: string } = {}) =>
      call(method, template, { token: key, ...options });
    await tpl("POST", "/v1/templates", { body: { name: "oa-t", workflow: TRIVIAL_WORKFLOW, description: "contract" } });
    await tpl("POST", "/v1/templates", {
      body: { name: "oa-t", workflow: { nodes: [{ id: 1, type: "NoSuchNode" }] } },
    });
    await tpl("POST", "/v1/templates", { body: { name: "Bad Name", workflow: TRIVIAL_WORKFLOW } });
    await tpl("GET", "/v1/templates");
    await tpl("GET", "/v1/templates/{name}", { url: "/v1/templates/oa-t" });
    await tpl("GET", "/v1/templates/{name}", { url: "/v1/templates/oa-t?version=x" });
    await tpl("GET", "/v1/templates/{name}", { url: "/v1/templates/nope" });
    await tpl("GET", "/v1/templates/{name}/openapi.json", { url: "/v1/templates/oa-t/openapi.json" });
    await tpl("POST", "/v1/templates/{name}/runs", {
      url: "/v1/templates/oa-t/runs",
      body: { inputs: { "1.width": 32 } },
    });
    await tpl("POST", "/v1/templates/{name}/runs", {
      url: "/v1/templates/oa-t/runs",
      body: { inputs: { "1.width": "x" } },
    });
    await tpl("POST", "/v1/templates/{name}/runs", { url: "/v1/templates/oa-t/runs", body: { inputs: { nope: 1 } } });
    await tpl("POST", "/v1/templates/{name}/runs", { url: "/v1/templates/nope/runs", body: {} });
    await tpl("DELETE", "/v1/templates/{name}", { url: "/v1/templates/oa-t" });
    await tpl("DELETE", "/v1/templates/{name}", { url: "/v1/templates/oa-t" });
    // Images API (test/images covers the answers with a runner)
    await tpl("POST", "/v1/images/generations", { body: { model: "no-such-image-model", prompt: "x" } });
    await tpl("POST", "/v1/images/generations", { body: { model: "m", prompt: "x", n: 0 } });
    await tpl("POST", "/v1/images/edits", { body: { model: "m", prompt: "x" } });
    await tpl("GET", "/v1/images/sessions/{id}", { url: "/v1/images/sessions/isess_nope" });

    // LLM proxy
    await exerciseLlmProxy(call, llmKey.key, key, checker.doc.paths);

    expect(problems).toEqual([]);
  });

  it("covers every documented operation", () => {
    const exercised = new Set([...checker.seen].map((s) => s.split(" ").slice(0, 2).join(" ")));
    const documented = Object.entries(checker.doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`),
    );
    expect(documented.filter((op) => !exercised.has(op))).toEqual([]);
  });
});
