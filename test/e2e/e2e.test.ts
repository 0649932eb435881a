/**
 * End to end: gateway + queue consumer on workerd (real queues, Durable Objects, D1, R2), the runner, and the
 * ComfyUI double. A job submitted over the public API ends `succeeded`, and its output, downloaded through
 * the API, is byte for byte the file ComfyUI (the double) wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComfyDouble, startComfyDouble } from "../comfyui-double/index.ts";
import { readSse, TRIVIAL_WORKFLOW } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { type Client, client, startTestRunner, type TestRunner } from "./helpers.ts";

describe("end to end: public API -> gateway -> runner -> ComfyUI double -> R2 -> public API", () => {
  let stack: Stack;
  let comfy: ComfyDouble;
  let runner: TestRunner;
  let tenant: Client;
  beforeAll(async () => {
    [stack, comfy] = await Promise.all([startStack(), startComfyDouble()]);
    runner = await startTestRunner(stack, [comfy.url]);
    tenant = await client(stack);
  }, 60_000);
  afterAll(async () => {
    await runner?.close();
    await comfy?.close();
    await stack?.close();
  });

  it("runs a submitted job to succeeded with the exact bytes ComfyUI produced", async () => {
    const submitted = await tenant.call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } });
    expect(submitted.status).toBe(202);
    const jobId = submitted.json.id as string;
    const sse = await readSse(`${stack.url}/v1/jobs/${jobId}/events`, tenant.key, { timeoutMs: 20_000 });
    expect(sse.events.map((e) => e.event)).toEqual(["queued", "started", "output", "succeeded"]);

    const job = (await tenant.call(`/v1/jobs/${jobId}`)).json;
    expect(job.status).toBe("succeeded");
    expect(job.outputs).toHaveLength(1);
    expect(job.outputs[0]).toMatchObject({ index: 0, node_id: "9", content_type: "image/png" });
    // The runner reported its run and upload times; they fit inside the job's queue-to-end time.
    expect(job.stats).toEqual({
      queue_ms: expect.any(Number),
      run_ms: expect.any(Number),
      upload_ms: expect.any(Number),
      total_ms: expect.any(Number),
    });
    expect(job.stats.queue_ms + job.stats.run_ms + job.stats.upload_ms).toBeLessThanOrEqual(job.stats.total_ms);

    const produced = comfy.outputs();
    expect(produced).toHaveLength(1);
    const dl = await fetch(`${stack.url}/v1/jobs/${jobId}/outputs/0`, {
      headers: { authorization: `Bearer ${tenant.key}` },
    });
    expect(dl.status).toBe(200);
    expect(dl.headers.get("content-type")).toBe("image/png");
    const bytes = new Uint8Array(await dl.arrayBuffer());
    expect(bytes.length).toBe(job.outputs[0].size);
    expect(Buffer.from(bytes).equals(Buffer.from(produced[0]!.bytes))).toBe(true);

    // What ComfyUI got: the job's prefix, our client id, a prompt id reported as `started`.
    const prompt = comfy.prompts().at(-1)!;
    expect(prompt.client_id).toBe(runner.runner.slots[0]!.socket.clientId);
    expect((prompt.prompt as Record<string, { inputs: Record<string, unknown> }>)["9"]!.inputs.filename_prefix).toMatch(
      /^comfy-edge\/[0-9a-f]{24}\/comfy-edge$/,
    );
  });
});
