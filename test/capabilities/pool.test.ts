/**
 * Capabilities over HTTP on workerd: runners publish reports (digest with each lease, the report on 409),
 * GET /v1/pools/:name/capabilities, 422s at submit against the pool's union, capability-aware dispatch
 * with waiting_for, queue position and estimate, admission with max_wait_s, Prometheus metrics.
 */

import { reportDigest } from "@comfy-edge/shared/capabilities/build";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { api, runnerToken, ScriptedRunner, tenantWithKey } from "../harness/api.ts";
import { useStack } from "../harness/use-stack.ts";
import { report033, txt2img } from "./fixtures.ts";
import { CapableRunner } from "./helpers.ts";

describe("pool capabilities", () => {
  const stack = useStack();

  async function tenantApi() {
    return api(stack(), (await tenantWithKey(stack())).key);
  }

  it("a lease with an unknown digest gets 409 capabilities_required; the report is checked against its digest", async () => {
    const token = await runnerToken(stack(), "caps-proto");
    const runner = new CapableRunner(stack(), token, "r1", report033());
    const first = await runner.leaseRaw(0);
    expect(first.status).toBe(409);
    expect(first.json.error).toMatchObject({ code: "capabilities_required", param: "capabilities_digest" });
    const wrong = await runner.call("PUT", "/capabilities", { digest: "0".repeat(64), report: runner.report });
    expect(wrong.status).toBe(422);
    expect(wrong.json.error.code).toBe("digest_mismatch");
    const digest = await reportDigest(runner.report);
    const put = await runner.call("PUT", "/capabilities", { digest, report: runner.report });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ digest, node_classes: 886 });
    expect((await runner.leaseRaw(0)).status).toBe(204);
  });

  it("GET /v1/pools/:name/capabilities: the live runners' union, refused classes hidden, no host paths", async () => {
    const a = new CapableRunner(
      stack(),
      await runnerToken(stack(), "caps-view"),
      "a",
      report033({ checkpoints: ["a.safetensors"] }),
    );
    const b = new CapableRunner(
      stack(),
      await runnerToken(stack(), "caps-view"),
      "b",
      report033({ checkpoints: ["b.safetensors"] }),
    );
    const client = await tenantApi();
    expect((await client("/v1/pools/caps-view/capabilities")).json).toMatchObject({
      reported: false,
      node_classes: {},
    });
    await a.lease();
    await b.lease();
    const res = await client("/v1/pools/caps-view/capabilities");
    expect(res.status).toBe(200);
    expect(res.json.reported).toBe(true);
    expect(res.json.runners).toBe(2);
    expect(res.json.models.checkpoints).toEqual(expect.arrayContaining(["a.safetensors", "b.safetensors"]));
    expect(res.json.node_classes.KSampler.inputs.steps).toEqual({ type: "INT", min: 1, max: 10000 });
    // File readers are refused by the default node policy: not listed.
    expect(res.json.node_classes.LoadImageOutput).toBeUndefined();
    expect(JSON.stringify(res.json)).not.toMatch(/\/root\//);
    expect((await client("/v1/pools/nope-pool/capabilities")).status).toBe(404);
  });

  it("submit: 422 for a model no runner has, an unknown class, a bad enum; a valid graph is queued", async () => {
    const runner = new CapableRunner(
      stack(),
      await runnerToken(stack(), "caps-submit"),
      "s",
      report033({ checkpoints: ["sd15.safetensors"] }),
    );
    await runner.lease();
    const client = await tenantApi();
    const missing = await client("/v1/jobs", { body: { workflow: txt2img("sdxl.safetensors"), pool: "caps-submit" } });
    expect(missing.status).toBe(422);
    expect(missing.json.error).toMatchObject({ code: "model_not_available", param: "workflow.4.inputs.ckpt_name" });
    expect(missing.json.error.message).toContain("'sd15.safetensors'");
    const wf = txt2img();
    wf["3"]!.class_type = "KSamplerTurbo";
    const unknown = await client("/v1/jobs", { body: { workflow: wf, pool: "caps-submit" } });
    expect(unknown.json.error).toMatchObject({ code: "unknown_node_class", param: "workflow.3.class_type" });
    const bad = txt2img();
    bad["3"]!.inputs.scheduler = "karas";
    const badRes = await client("/v1/jobs", { body: { workflow: bad, pool: "caps-submit" } });
    expect(badRes.json.error).toMatchObject({ code: "invalid_input_value", param: "workflow.3.inputs.scheduler" });
    const ok = await client("/v1/jobs", { body: { workflow: txt2img(), pool: "caps-submit" } });
    expect(ok.status).toBe(202);
    const grant = await runner.lease(5);
    expect(grant?.job.id).toBe(ok.json.id);
  });

  it("dispatch: a job goes only to a runner that has its model; otherwise it says what it waits for", async () => {
    const token = await runnerToken(stack(), "caps-dispatch");
    const a = new CapableRunner(
      stack(),
      token,
      "a",
      report033({ checkpoints: ["a.safetensors"], loras: ["x.safetensors"] }),
    );
    const b = new CapableRunner(stack(), token, "b", report033({ checkpoints: ["b.safetensors"] }));
    await a.lease();
    await b.lease();
    const client = await tenantApi();
    const forB = await client("/v1/jobs", { body: { workflow: txt2img("b.safetensors"), pool: "caps-dispatch" } });
    expect(forB.status).toBe(202);
    // Needs b's checkpoint and a's LoRA: the union has both, no runner has both.
    const split = txt2img("b.safetensors");
    split["11"] = {
      class_type: "LoraLoader",
      inputs: { lora_name: "x.safetensors", strength_model: 1, strength_clip: 1, model: ["4", 0], clip: ["4", 1] },
    };
    split["3"]!.inputs.model = ["11", 0];
    const nobody = await client("/v1/jobs", { body: { workflow: split, pool: "caps-dispatch" } });
    expect(nobody.status).toBe(202);
    await expect
      .poll(async () => (await client(`/v1/jobs/${nobody.json.id}`)).json.queue_position, { timeout: 10_000 })
      .toBe(2);
    const view = (await client(`/v1/jobs/${nobody.json.id}`)).json;
    expect(view.waiting_for).toEqual({ model: { folder: "checkpoints", name: "b.safetensors" } });
    expect(typeof view.estimated_start_at).toBe("string");
    expect(await a.lease(0)).toBeNull();
    const grant = await b.lease(5);
    expect(grant?.job.id).toBe(forB.json.id);
    expect(await b.lease(0)).toBeNull();
    expect((await client(`/v1/jobs/${nobody.json.id}`)).json).toMatchObject({ status: "queued", queue_position: 1 });
  });

  it("while a live runner sends no report (an older runner), submits are not checked", async () => {
    const token = await runnerToken(stack(), "caps-mixed");
    await new CapableRunner(stack(), token, "new", report033({ checkpoints: ["a.safetensors"] })).lease();
    expect(await new ScriptedRunner(stack(), token, "old").lease(0)).toBeNull();
    const client = await tenantApi();
    const view = (await client("/v1/pools/caps-mixed/capabilities")).json;
    expect(view).toMatchObject({ reported: true, runners: 1, unreported_runners: 1 });
    const res = await client("/v1/jobs", { body: { workflow: txt2img("only-old.safetensors"), pool: "caps-mixed" } });
    expect(res.status).toBe(202);
  });

  it("a report over 2 MB (a SQLite row's limit) is stored in parts", async () => {
    const files = Array.from(
      { length: 45_000 },
      (_, i) => `sdxl/finetunes/community/model-${String(i).padStart(6, "0")}.safetensors`,
    );
    const report = report033({ checkpoints: files });
    expect(JSON.stringify(report).length).toBeGreaterThan(2 * 1024 * 1024);
    const runner = new CapableRunner(stack(), await runnerToken(stack(), "caps-big"), "big", report);
    expect(await runner.lease()).toBeNull();
    const res = await (await tenantApi())("/v1/pools/caps-big/capabilities");
    expect(res.json.models.checkpoints).toEqual(report.models.checkpoints);
    expect(res.json.models.checkpoints).toContain(files[44_999]);
  });

  it("a job needing a class one live runner lacks goes to the runner that has it; nothing is missing", async () => {
    const token = await runnerToken(stack(), "caps-class");
    const full = new CapableRunner(stack(), token, "full", report033());
    const trimmed = report033();
    delete trimmed.node_classes.ImageInvert;
    const small = new CapableRunner(stack(), token, "small", trimmed);
    await full.lease();
    await small.lease();
    const client = await tenantApi();
    const wf = txt2img();
    wf["10"] = { class_type: "ImageInvert", inputs: { image: ["8", 0] } };
    wf["9"]!.inputs.images = ["10", 0];
    const job = await client("/v1/jobs", { body: { workflow: wf, pool: "caps-class" } });
    expect(job.status).toBe(202);
    await expect
      .poll(async () => (await client(`/v1/jobs/${job.json.id}`)).json.queue_position, { timeout: 10_000 })
      .toBe(1);
    // The full runner is live: nothing is missing, though only it may take the job.
    expect((await client(`/v1/jobs/${job.json.id}`)).json.waiting_for).toBeNull();
    expect(await small.lease(0)).toBeNull();
    expect((await full.lease(1))?.job.id).toBe(job.json.id);
  });

  it("admission: max_wait_s beyond the estimate -> 503 pool_saturated with Retry-After; metrics in Prometheus text", async () => {
    const runner = new CapableRunner(stack(), await runnerToken(stack(), "caps-admit"), "m", report033());
    await runner.lease();
    const client = await tenantApi();
    const submittedAt = Date.now();
    const first = await client("/v1/jobs", { body: { workflow: txt2img(), pool: "caps-admit", max_wait_s: 5 } });
    expect(first.status).toBe(202);
    await expect
      .poll(async () => (await client(`/v1/jobs/${first.json.id}`)).json.queue_position, { timeout: 10_000 })
      .toBe(1);
    // One slot, already promised to the first job: the next waits a whole run (30 s before any run is seen).
    const second = await client("/v1/jobs", { body: { workflow: txt2img(), pool: "caps-admit", max_wait_s: 5 } });
    expect(second.status).toBe(503);
    expect(second.json.error).toMatchObject({ code: "pool_saturated", param: "max_wait_s" });
    expect(Number(second.headers.get("retry-after"))).toBe(25);
    expect(
      (await client("/v1/jobs", { body: { workflow: txt2img(), pool: "caps-admit", max_wait_s: 60 } })).status,
    ).toBe(202);
    const res = await fetch(`${stack().url}/admin/v1/pools/caps-admit/metrics`, {
      headers: { authorization: `Bearer ${stack().adminToken}` },
    });
    expect(res.headers.get("content-type")).toContain("text/plain");
    const readAt = Date.now();
    const families = parsePrometheusTextFormat(await res.text());
    const value = (name: string) => {
      const f = families.find((x) => x.name === name);
      expect(f?.metrics[0]?.labels).toEqual({ pool: "caps-admit" });
      return Number(f?.metrics[0]?.value);
    };
    expect(value("comfy_edge_pool_queued_jobs")).toBe(2);
    expect(value("comfy_edge_pool_running_jobs")).toBe(0);
    expect(value("comfy_edge_pool_live_runners")).toBe(1);
    expect(value("comfy_edge_pool_free_slots")).toBe(1);
    expect(value("comfy_edge_pool_estimated_wait_seconds")).toBe(60);
    // The first job has waited since it was queued (after it was submitted, before the metrics were read).
    const age = value("comfy_edge_pool_oldest_queued_age_seconds");
    expect(age).toBeGreaterThan(0);
    expect(age).toBeLessThanOrEqual((readAt - submittedAt) / 1000);
  });

  it("GET /v1/pools/:name lists the runners that leased: version, GPU from the report, slots, live; no token ids", async () => {
    await runnerToken(stack(), "caps-runners");
    const issued = await stack().admin<{ id: string; token: string }>("/admin/v1/runner-tokens", {
      pool: "caps-runners",
    });
    const reporting = new CapableRunner(stack(), issued.token, "gpu-a", report033());
    await reporting.lease();
    // An older runner: no capability report, so no GPU to show.
    const older = await reporting.call("POST", "/lease", {
      runner_id: "gpu-old",
      version: "0.9.1",
      comfyui_version: "0.3.10",
      slots: 2,
      wait_s: 0,
    });
    expect(older.status).toBe(204);
    const res = await (await tenantApi())("/v1/pools/caps-runners");
    expect(res.status).toBe(200);
    const text = JSON.stringify(res.json);
    expect(text).not.toContain(issued.id);
    expect(text).not.toContain(issued.token);
    expect(res.json).toMatchObject({ runners: 2, queued: 0, running: 0, estimated_wait_s: 0 });
    const byId = Object.fromEntries(
      (res.json.runner_list as Array<{ runner_id: string; last_seen_at: string }>).map((r) => [r.runner_id, r]),
    );
    expect(Object.keys(byId).sort()).toEqual(["gpu-a", "gpu-old"]);
    expect(byId["gpu-a"]).toMatchObject({
      version: "test",
      comfyui_version: "0.33.0",
      gpu: "cuda:0 NVIDIA L4",
      vram_gb: 24,
      slots: 1,
      state: "live",
    });
    expect(byId["gpu-old"]).toMatchObject({
      version: "0.9.1",
      comfyui_version: "0.3.10",
      gpu: null,
      vram_gb: null,
      slots: 2,
      state: "live",
    });
    expect(Date.parse(byId["gpu-a"]?.last_seen_at ?? "")).toBeLessThanOrEqual(Date.now());
  });
});
