/**
 * The runner against a real gateway stack (workerd: queues, Durable Objects, D1, R2) and the ComfyUI double,
 * through every path: inputs, conversion, progress, validation and execution errors, cancel (pending and
 * running), timeouts, lease lost, ComfyUI dying mid-job, dropped sockets reconciled from /history, GC pauses,
 * ComfyUI down at start, graceful shutdown, health and metrics. Each test has its own pool, double and runner.
 */
import { describe, expect, it, vi } from "vitest";
import type { Runner } from "../../runner/src/runner.ts";
import { type ComfyDouble, type HistoryEntry, startComfyDouble } from "../comfyui-double/index.ts";
import { runnerToken, ScriptedRunner } from "../harness/api.ts";
import { executing, finished, startCutProxy, startTestRunner } from "./helpers.ts";
import { useRunnerSuite } from "./runner-suite.ts";

const suite = useRunnerSuite("rp");
const { setup, freshWorkflow, download, cleanups } = suite;

/** The prompt's ComfyUI history entry, once the prompt has ended (the timeout only guards against hangs). */
function inHistory(comfy: ComfyDouble, promptId: string): Promise<HistoryEntry> {
  return vi.waitFor(
    () => {
      const entry = comfy.history()[promptId];
      if (entry === undefined) throw new Error(`prompt ${promptId} is not in ComfyUI's history yet`);
      return entry;
    },
    { timeout: 15_000, interval: 25 },
  );
}

/**
 * Submits a job and resolves once ComfyUI starts `nodeId` of it (its prompt id), listening on the runner's socket
 * BEFORE submitting: a runner already long-polling is granted the job inside the submit, before the 202 reaches
 * the test, and its prompt is past the 1 ms EmptyImage by then (measured: the node's `executing` arrives 0.5-3 ms
 * after the 202 on an idle machine, before it under load). Subscribing after the submit missed it.
 */
async function submitUntilNode(
  runner: Runner,
  nodeId: string,
  submit: () => Promise<string>,
): Promise<{ jobId: string; promptId: string }> {
  const started = executing(runner, nodeId);
  started.catch(() => {}); // awaited below; a failed submit must not leave it unhandled
  const jobId = await submit();
  return { jobId, promptId: await started };
}

describe("runner: inputs, outputs, conversion, progress", () => {
  it("uploads the lease's input to ComfyUI and points LoadImage at the uploaded name", async () => {
    const s = await setup();
    const jobId = await s.submit({
      workflow: {
        "10": { class_type: "LoadImage", inputs: { image: `data:image/png;base64,${suite.png}` } },
        "11": {
          class_type: "ImageScale",
          inputs: { image: ["10", 0], upscale_method: "nearest-exact", width: 32, height: 16, crop: "disabled" },
        },
        "12": { class_type: "SaveImage", inputs: { images: ["11", 0], filename_prefix: "mine" } },
      },
    });
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
    const uploads = s.comfy.uploads();
    expect(uploads).toHaveLength(1);
    expect(Buffer.from(uploads[0]!.bytes).equals(Buffer.from(suite.png, "base64"))).toBe(true);
    expect(uploads[0]!.name).toMatch(/\.png$/);
    const sent = s.comfy.prompts().at(-1)!.prompt as Record<string, { inputs: Record<string, unknown> }>;
    expect(sent["10"]!.inputs.image).toBe(`${uploads[0]!.subfolder}/${uploads[0]!.name}`);
    expect(sent["12"]!.inputs.filename_prefix).toBe(`${uploads[0]!.subfolder}/mine`);
    const out = await download(jobId, 0);
    expect(out.bytes.equals(Buffer.from(s.comfy.outputs()[0]!.bytes))).toBe(true);
  });

  it("converts outputs to the job's format with sharp", async () => {
    const s = await setup();
    const jobId = await s.submit({ workflow: freshWorkflow(), output: { format: "jpeg", quality: 80 } });
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
    expect(job.outputs[0]).toMatchObject({ content_type: "image/jpeg" });
    expect(job.outputs[0].filename).toMatch(/\.jpg$/);
    const out = await download(jobId, 0);
    expect(out.type).toBe("image/jpeg");
    expect(out.bytes.subarray(0, 3).toString("hex")).toBe("ffd8ff");
  });

  it("reports throttled progress and uploads SaveImageWebsocket images from binary frames", async () => {
    const s = await setup();
    s.comfy.setNodeDelay("SaveImageWebsocket", 1_500);
    const jobId = await s.submit({
      workflow: {
        "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 6, color: 255 } },
        "2": { class_type: "SaveImageWebsocket", inputs: { images: ["1", 0] } },
      },
    });
    const { job, events } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
    expect(job.outputs).toHaveLength(6);
    for (const [i, o] of job.outputs.entries()) {
      expect(o).toMatchObject({ node_id: "2", content_type: "image/png", filename: `ComfyUI_n2_0000${i + 1}_.png` });
      const out = await download(jobId, i);
      expect(out.bytes.subarray(1, 4).toString()).toBe("PNG");
    }
    const progress = events.filter((e) => e.event === "progress");
    expect(progress.length).toBeGreaterThanOrEqual(1);
    // 6 updates over ~1.5 s, throttled to at most 2 per second.
    expect(progress.length).toBeLessThanOrEqual(5);
    expect(progress[0]!.data).toMatchObject({ max: 6, node_id: "2" });
  });
});

describe("runner: ComfyUI refusals and failures", () => {
  it("fails a workflow ComfyUI refuses (400) naming node and input, without retrying", async () => {
    const s = await setup();
    const workflow = freshWorkflow();
    workflow["1"].inputs.width = 0;
    const jobId = await s.submit({ workflow });
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status).toBe("failed");
    expect(job.attempt).toBe(1);
    expect(job.error).toMatchObject({ code: "workflow_invalid", node_id: "1", node_type: "EmptyImage" });
    expect(job.error.message).toContain("node 1 (EmptyImage) input 'width': Value 0 smaller than min of 1");
    expect(s.comfy.prompts()).toHaveLength(0);
  });

  it("fails a prompt accepted with node_errors, naming the node, and takes it out of ComfyUI", async () => {
    const s = await setup();
    s.comfy.setNodeDelay("EmptyImage", 1_000);
    const jobId = await s.submit({
      workflow: {
        ...freshWorkflow(),
        "4": {
          class_type: "ImageScale",
          inputs: { image: ["1", 0], upscale_method: "bogus", width: 8, height: 8, crop: "disabled" },
        },
        "5": { class_type: "SaveImage", inputs: { images: ["4", 0], filename_prefix: "y" } },
      },
    });
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status).toBe("failed");
    expect(job.attempt).toBe(1);
    expect(job.error).toMatchObject({ code: "workflow_invalid", node_id: "4", node_type: "ImageScale" });
    expect(job.error.message).toContain("node 4 (ImageScale) input 'upscale_method'");
    // The valid half never saved anything: the prompt was interrupted before its SaveImage ran.
    const promptId = s.comfy.prompts()[0]!.prompt_id;
    const entry = await inHistory(s.comfy, promptId);
    expect(entry.status?.status_str).toBe("error");
    expect(JSON.stringify(entry.status?.messages)).toContain("execution_interrupted");
    expect(s.comfy.outputs()).toHaveLength(0);
  });

  it("fails on execution_error with node id, node type and the exception message, not retried", async () => {
    const s = await setup();
    s.comfy.failNode("ImageInvert", { message: "tensor went sideways", type: "RuntimeError" });
    const jobId = await s.submit({ workflow: freshWorkflow() });
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status).toBe("failed");
    expect(job.attempt).toBe(1);
    expect(job.error).toMatchObject({ code: "execution_error", node_id: "2", node_type: "ImageInvert" });
    expect(job.error.message).toBe("Node 2 (ImageInvert) failed: RuntimeError: tensor went sideways");
  });

  it("enforces the job's timeout_s: interrupts the prompt and fails with job_timeout", async () => {
    const s = await setup();
    s.comfy.setNodeDelay("ImageInvert", 2_500);
    const jobId = await s.submit({ workflow: freshWorkflow(), timeout_s: 1 });
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status).toBe("failed");
    expect(job.error.code).toBe("job_timeout");
    const promptId = s.comfy.prompts()[0]!.prompt_id;
    const entry = await inHistory(s.comfy, promptId);
    expect(JSON.stringify(entry.status?.messages)).toContain("execution_interrupted");
  });
});

describe("runner: cancel", () => {
  it("cancels a prompt still pending in ComfyUI with POST /queue {delete}", async () => {
    const s = await setup();
    // Another client keeps ComfyUI busy, so the job's prompt waits in ComfyUI's queue.
    s.comfy.setNodeDelay("ImageBlur", 4_000);
    const busy = await fetch(`${s.comfy.url}/prompt`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        prompt: {
          "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
          "2": { class_type: "ImageBlur", inputs: { image: ["1", 0], blur_radius: 1, sigma: 1 } },
          "3": { class_type: "PreviewImage", inputs: { images: ["2", 0] } },
        },
      }),
    });
    expect(busy.status).toBe(200);
    const jobId = await s.submit({ workflow: freshWorkflow() });
    // The job's prompt is queued behind the busy one.
    await expect.poll(() => s.comfy.prompts().length, { timeout: 15_000 }).toBe(2);
    expect((await suite.tenant.call(`/v1/jobs/${jobId}/cancel`, { method: "POST" })).status).toBeLessThan(300);
    const { job, events } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status).toBe("canceled");
    expect(events.at(-1)!.event).toBe("canceled");
    const ours = s.comfy.prompts()[1]!.prompt_id;
    const queue = await (await fetch(`${s.comfy.url}/queue`)).json();
    expect(JSON.stringify(queue)).not.toContain(ours);
    expect(s.comfy.history()[ours]).toBeUndefined();
  });

  it("cancels a running prompt with POST /interrupt {prompt_id}", async () => {
    const s = await setup();
    // Long enough for the cancel to reach the runner (next heartbeat, at half the 3 s lease) mid-node.
    s.comfy.setNodeDelay("ImageInvert", 2_500);
    const { jobId, promptId } = await submitUntilNode(s.runner.runner, "2", () =>
      s.submit({ workflow: freshWorkflow() }),
    );
    expect((await suite.tenant.call(`/v1/jobs/${jobId}/cancel`, { method: "POST" })).status).toBeLessThan(300);
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status).toBe("canceled");
    const entry = s.comfy.history()[promptId];
    expect(JSON.stringify(entry?.status?.messages)).toContain("execution_interrupted");
    expect(s.comfy.outputs()).toHaveLength(0);
    expect(await s.runner.resultFor(jobId)).toBe("canceled");
  });
});

describe("runner: faults", () => {
  it("lease lost: interrupts the prompt in ComfyUI and drops the job; the new attempt finishes it", async () => {
    const pool = "rp-lease-lost";
    const comfy = await startComfyDouble();
    cleanups.push(() => comfy.close());
    const token = await runnerToken(suite.stack, pool);
    const proxy = await startCutProxy(suite.stack.url);
    cleanups.push(() => proxy.close());
    const a = await startTestRunner({ ...suite.stack, url: proxy.url }, [comfy.url], { token, runnerId: "runner-a" });
    cleanups.push(() => a.close());
    comfy.setNodeDelay("ImageInvert", 6_000);
    const { jobId, promptId } = await submitUntilNode(
      a.runner,
      "2",
      async () => (await suite.tenant.call("/v1/jobs", { body: { pool, workflow: freshWorkflow() } })).json.id,
    );
    // Runner A is cut off from the gateway: its lease expires and attempt 2 goes to another runner.
    proxy.cut();
    const b = new ScriptedRunner(suite.stack, token, "runner-b");
    const grant = await b.lease(15);
    expect(grant?.job.id).toBe(jobId);
    expect(grant?.lease.attempt).toBe(2);
    // Attempt 2 finishes while A is still cut off.
    const up = await b.upload(grant!.lease.id, Buffer.from(suite.png, "base64"));
    const done = await b.event(grant!.lease.id, { type: "succeeded", outputs: [up.ref] });
    expect(done.json.status, JSON.stringify(done.json)).toBe("succeeded");
    proxy.restore();
    // A's next heartbeat answers 409 lease_lost: it interrupts its prompt and drops the job.
    expect(await a.nextResult(jobId, 15_000)).toBe("lease_lost");
    const entry = await inHistory(comfy, promptId); // A's prompt ended in ComfyUI
    expect(JSON.stringify(entry.status?.messages)).toContain("execution_interrupted");
    expect(comfy.outputs()).toHaveLength(0);
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job).toMatchObject({ status: "succeeded", attempt: 2 });
  });

  it("ComfyUI dies mid-job: failed comfyui_unavailable (retryable), re-dispatched, succeeds after restart", async () => {
    const s = await setup();
    s.comfy.setNodeDelay("ImageInvert", 5_000);
    const { jobId } = await submitUntilNode(s.runner.runner, "2", () => s.submit({ workflow: freshWorkflow() }));
    const failedFirst = s.runner.nextResult(jobId);
    await s.comfy.die();
    expect(await failedFirst).toBe("failed");
    // While ComfyUI is down the runner does not lease and says it is not ready.
    const readyz = await fetch(`http://127.0.0.1:${s.runner.runner.port}/readyz`);
    expect(readyz.status).toBe(503);
    expect((await suite.tenant.call(`/v1/jobs/${jobId}`)).json).toMatchObject({ status: "queued" });
    s.comfy.clearFaults();
    await s.comfy.restart();
    const { job, events } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
    expect(job.attempt).toBe(2);
    const queued = events.filter((e) => e.event === "queued");
    expect(queued.map((e) => e.data.attempt)).toEqual([1, 2]);
    expect(queued[1]!.data.reason).toContain("comfyui_unavailable");
  });

  it("socket drops: reconnects and reconciles the outcome from /history", async () => {
    const s = await setup();
    s.comfy.setNodeDelay("ImageInvert", 600);
    const seen: string[] = [];
    s.runner.runner.slots[0]!.socket.subscribe({ message: (m) => seen.push(m.type) });
    const { jobId, promptId } = await submitUntilNode(s.runner.runner, "2", () =>
      s.submit({ workflow: freshWorkflow() }),
    );
    // ComfyUI stops accepting connections (the socket drops, reconnects fail) while the prompt finishes.
    await s.comfy.setRefuseConnections(true);
    // The prompt finished inside ComfyUI.
    await expect.poll(() => s.comfy.history()[promptId]?.status?.completed, { timeout: 15_000 }).toBe(true);
    await s.comfy.setRefuseConnections(false);
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
    expect(job.attempt).toBe(1);
    expect(seen).not.toContain("execution_success");
    const out = await download(jobId, 0);
    expect(out.bytes.equals(Buffer.from(s.comfy.outputs()[0]!.bytes))).toBe(true);
    // A plain drop of the websocket mid-prompt is survived too.
    s.comfy.setNodeDelay("ImageInvert", 300);
    // The runner is long-polling now: the job is granted before the submit answers (see submitUntilNode).
    const { jobId: second } = await submitUntilNode(s.runner.runner, "2", () =>
      s.submit({ workflow: freshWorkflow() }),
    );
    s.comfy.dropSockets();
    expect((await finished(suite.stack, suite.tenant, second)).job.status).toBe("succeeded");
    const metrics = await (await fetch(`http://127.0.0.1:${s.runner.runner.port}/metrics`)).text();
    expect(metrics).toMatch(/comfy_edge_runner_comfyui_ws_reconnects_total\{slot="0"\} [1-9]/);
  });

  it("tolerates ComfyUI's GC pauses: no false timeouts or failures", async () => {
    const s = await setup({
      double: { gcPauseMs: 800, gcIntervalMs: 0 },
      tuning: { historyPollMs: 100, unreachableGraceMs: 5_000 },
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await s.submit({ workflow: freshWorkflow(), timeout_s: 30 }));
    for (const id of ids) {
      const { job } = await finished(suite.stack, suite.tenant, id);
      expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
      expect(job.attempt).toBe(1);
    }
  });
});

describe("runner: health, shutdown", () => {
  it("does not lease while ComfyUI is down at start; reports unhealthy, then recovers", async () => {
    const s = await setup({ tuning: { healthBackoffMaxMs: 300 }, comfyDownAtStart: true });
    expect((await fetch(`http://127.0.0.1:${s.runner.runner.port}/readyz`)).status).toBe(503);
    const jobId = await s.submit({ workflow: freshWorkflow() });
    const health = await (await fetch(`http://127.0.0.1:${s.runner.runner.port}/healthz`)).json();
    expect(health.slots[0]).toMatchObject({ comfyui_up: false });
    expect((await suite.tenant.call(`/v1/jobs/${jobId}`)).json.status).toBe("queued");
    await s.comfy.restart();
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job).toMatchObject({ status: "succeeded", attempt: 1 });
    const ready = await fetch(`http://127.0.0.1:${s.runner.runner.port}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${s.runner.runner.port}/metrics`)).text();
    expect(metrics).toContain('comfy_edge_runner_jobs_total{outcome="succeeded",code=""} 1');
    expect(metrics).toContain('comfy_edge_runner_comfyui_up{slot="0"} 1');
    expect(metrics).toMatch(/process_cpu_user_seconds_total \d/);
  });

  it("a second signal skips the drain: the running job is interrupted and given back at once", async () => {
    const s = await setup();
    s.comfy.setNodeDelay("ImageInvert", 3_000);
    const { jobId } = await submitUntilNode(s.runner.runner, "2", () => s.submit({ workflow: freshWorkflow() }));
    const draining = s.runner.runner.close({ drainMs: 60_000 }); // first signal: would wait up to 60 s
    await s.runner.runner.forceStop(); // second signal
    await draining;
    // Stopped without waiting for the job: ComfyUI is still on the 3 s node (the prompt is not in its history).
    const promptId = s.comfy.prompts().at(-1)!.prompt_id;
    expect(s.comfy.history()[promptId]).toBeUndefined();
    expect(s.runner.results.at(-1)).toMatchObject({ jobId, result: "given_back" });
    // Given back (no attempt spent): queued again.
    expect((await suite.tenant.call(`/v1/jobs/${jobId}`)).json).toMatchObject({ status: "queued" });
  });

  it("graceful shutdown: drains a short job; past the drain timeout interrupts and gives the job back", async () => {
    const s = await setup();
    s.comfy.setNodeDelay("ImageInvert", 300);
    const { jobId: quick } = await submitUntilNode(s.runner.runner, "2", () => s.submit({ workflow: freshWorkflow() }));
    await s.runner.runner.close({ drainMs: 10_000 });
    expect((await finished(suite.stack, suite.tenant, quick)).job.status).toBe("succeeded");
    await s.runner.runner.close(); // idempotent

    const r2 = await startTestRunner(suite.stack, [s.comfy.url], { token: await runnerToken(suite.stack, s.pool) });
    cleanups.push(() => r2.close());
    s.comfy.setNodeDelay("ImageInvert", 3_000);
    const { jobId: slow, promptId } = await submitUntilNode(r2.runner, "2", () =>
      s.submit({ workflow: freshWorkflow() }),
    );
    await r2.runner.close({ drainMs: 200 });
    expect(r2.results.at(-1)).toMatchObject({ jobId: slow, result: "given_back" });
    const entry = await inHistory(s.comfy, promptId);
    expect(JSON.stringify(entry.status?.messages)).toContain("execution_interrupted");
    // Given back without counting an attempt: the next runner runs it as attempt 2 of the same budget.
    s.comfy.setNodeDelay("ImageInvert", 1);
    const r3 = await startTestRunner(suite.stack, [s.comfy.url], { token: await runnerToken(suite.stack, s.pool) });
    cleanups.push(() => r3.close());
    const { job, events } = await finished(suite.stack, suite.tenant, slow);
    expect(job).toMatchObject({ status: "succeeded", attempt: 2 });
    expect(events.find((e) => e.event === "queued" && e.data.attempt === 2)?.data.reason).toBe(
      "given back by the runner",
    );
  });
});
