/**
 * The runner and ComfyUI's folders, against a real gateway stack and the ComfyUI double (which writes real
 * files): with COMFYUI_DIR each job's uploaded inputs, outputs and previews are removed once the outputs are
 * uploaded (and when it fails); input names are random per job; output files keep the client's prefix and
 * savers without one still run; tenants get ComfyUI's failures without tracebacks or host paths; seeds given
 * as -1 are chosen by the runner and reported; a cancel reaches ComfyUI through the cancel-wait long poll.
 */
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import type { RunnerEvent } from "@comfy-edge/shared/contract/runner";
import { describe, expect, it, vi } from "vitest";
import type { ComfyDouble } from "../comfyui-double/index.ts";
import { executing, finished } from "./helpers.ts";
import { useRunnerSuite } from "./runner-suite.ts";

const suite = useRunnerSuite("rf");
const { setup } = suite;

/** Every file under ComfyUI's folders, as "input/…", "output/…", "temp/…". */
function filesIn(comfy: ComfyDouble): string[] {
  return readdirSync(comfy.folders.base, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(comfy.folders.base, join(e.parentPath, e.name)))
    .sort();
}

let color = 1000;
const withInput = (prefix: Record<string, unknown> = { filename_prefix: "portrait" }) => ({
  "10": { class_type: "LoadImage", inputs: { image: `data:image/png;base64,${suite.png}` } },
  "11": { class_type: "ImageBlur", inputs: { image: ["10", 0], blur_radius: 1, sigma: color++ / 1000 } },
  "12": { class_type: "PreviewImage", inputs: { images: ["11", 0] } },
  "13": { class_type: "SaveImage", inputs: { images: ["11", 0], ...prefix } },
});

describe("runner: ComfyUI's folders", () => {
  it("with COMFYUI_DIR removes the job's input, outputs and previews once uploaded; other files stay", async () => {
    const s = await setup({ env: (comfy) => ({ COMFYUI_DIR: comfy.folders.base }) });
    // Something of someone else's is already there.
    const before = await fetch(`${s.comfy.url}/upload/image`, {
      method: "POST",
      body: (() => {
        const form = new FormData();
        form.set("image", new Blob([Buffer.from(suite.png, "base64")]), "someone-else.png");
        return form;
      })(),
    });
    expect(before.status).toBe(200);
    const jobId = await s.submit({ workflow: withInput() });
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
    // ComfyUI did write them: the input, the saved output and the preview.
    expect(s.comfy.uploads()).toHaveLength(2);
    expect(
      s.comfy
        .outputs()
        .map((o) => o.type)
        .sort(),
    ).toEqual(["output", "temp"]);
    const out = await fetch(`${suite.stack.url}/v1/jobs/${jobId}/outputs/0`, {
      headers: { authorization: `Bearer ${suite.tenant.key}` },
    });
    expect(Buffer.from(await out.arrayBuffer()).equals(Buffer.from(s.comfy.outputs().at(-1)!.bytes))).toBe(true);
    // ... and none of it is left on the host, nor the prompt (its workflow) in ComfyUI's history.
    expect(filesIn(s.comfy)).toEqual(["input/someone-else.png"]);
    expect(s.comfy.prompts()).toHaveLength(1);
    expect(s.comfy.history()).toEqual({});
  });

  it("with COMFYUI_DIR removes what a failed job left (its input and a preview written before the error)", async () => {
    const s = await setup({ env: (comfy) => ({ COMFYUI_DIR: comfy.folders.base }) });
    s.comfy.failNode("SaveImage", { message: "disk full" });
    const jobId = await s.submit({ workflow: withInput() });
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status).toBe("failed");
    expect(s.comfy.outputs().map((o) => o.type)).toEqual(["temp"]);
    expect(filesIn(s.comfy)).toEqual([]);
  });

  it("without COMFYUI_DIR leaves the files; input names are random per job; outputs keep the client's prefix", async () => {
    const s = await setup();
    const first = await s.submit({ workflow: withInput() });
    const second = await s.submit({ workflow: withInput({}) }); // SaveImage without filename_prefix: the runner sets one
    const a = await finished(suite.stack, suite.tenant, first);
    const b = await finished(suite.stack, suite.tenant, second);
    expect(a.job.status, JSON.stringify(a.job.error)).toBe("succeeded");
    expect(b.job.status, JSON.stringify(b.job.error)).toBe("succeeded");
    expect(a.job.outputs.map((o: { filename: string }) => o.filename)).toEqual(["portrait_00001_.png"]);
    expect(b.job.outputs.map((o: { filename: string }) => o.filename)).toEqual(["ComfyUI_00001_.png"]);
    const uploads = s.comfy.uploads();
    expect(uploads).toHaveLength(2);
    for (const u of uploads) expect(u.subfolder).toMatch(/^comfy-edge\/[0-9a-f]{24}$/);
    expect(uploads[0]!.subfolder).not.toBe(uploads[1]!.subfolder);
    expect(uploads.map((u) => u.name)).not.toContain(expect.stringContaining(first.slice(4, 16)));
    const sent = s.comfy.prompts().map((p) => p.prompt as Record<string, { inputs: Record<string, unknown> }>);
    expect(sent[0]!["10"]!.inputs.image).toBe(`${uploads[0]!.subfolder}/${uploads[0]!.name}`);
    expect(sent[0]!["13"]!.inputs.filename_prefix).toBe(`${uploads[0]!.subfolder}/portrait`);
    expect(sent[1]!["13"]!.inputs.filename_prefix).toBe(`${uploads[1]!.subfolder}/ComfyUI`);
    expect(filesIn(s.comfy).filter((f) => f.startsWith("output/"))).toHaveLength(2);
  });

  it("tenants get node, type, exception and message without host paths or tracebacks", async () => {
    const s = await setup();
    s.comfy.failNode("SaveImage", {
      type: "FileNotFoundError",
      message: "[Errno 2] No such file or directory: '/home/gpu/ComfyUI/input/comfy-edge/1f/n10.png'",
    });
    const jobId = await s.submit({ workflow: withInput() });
    const { job, events } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status).toBe("failed");
    expect(job.error).toEqual({
      code: "execution_error",
      node_id: "13",
      node_type: "SaveImage",
      message: "Node 13 (SaveImage) failed: FileNotFoundError: [Errno 2] No such file or directory: 'n10.png'",
      details: {
        exception_type: "FileNotFoundError",
        exception_message: "[Errno 2] No such file or directory: 'n10.png'",
        executed: expect.any(Array),
      },
    });
    const failed = events.find((e) => e.event === "failed");
    expect(JSON.stringify(failed?.data)).not.toMatch(/traceback|\/home\/gpu|\/srv\/comfyui/);
  });

  it("seeds given as -1: one random seed per seed input, sent to ComfyUI, reported in the started event and shown on the job", async () => {
    const s = await setup();
    const sent: RunnerEvent[] = [];
    const gateway = s.runner.runner.gateway;
    const original = gateway.event.bind(gateway);
    const answers: unknown[] = [];
    vi.spyOn(gateway, "event").mockImplementation(async (leaseId, event, options) => {
      sent.push(event);
      const answer = await original(leaseId, event, options);
      answers.push(answer);
      return answer;
    });
    const jobId = await s.submit({
      workflow: {
        ...withInput(),
        "20": { class_type: "RandomNoise", inputs: { noise_seed: -1 } },
        "21": { class_type: "KSamplerAdvanced", inputs: { noise_seed: -1, seed_mode: -1, steps: 1 } },
        "22": { class_type: "RandomNoise", inputs: { noise_seed: 7 } },
      },
    });
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
    const started = sent.find((e) => e.type === "started");
    expect(started).toMatchObject({ type: "started", prompt_id: expect.any(String) });
    const resolved = (started as { resolved_inputs?: Record<string, Record<string, number>> }).resolved_inputs;
    expect(Object.keys(resolved ?? {}).sort()).toEqual(["20", "21"]);
    const prompt = s.comfy.prompts().at(-1)!.prompt as Record<string, { inputs: Record<string, unknown> }>;
    expect(resolved!["20"]).toEqual({ noise_seed: prompt["20"]!.inputs.noise_seed });
    expect(resolved!["21"]).toEqual({ noise_seed: prompt["21"]!.inputs.noise_seed });
    expect(prompt["20"]!.inputs.noise_seed).not.toBe(-1);
    expect(Number.isSafeInteger(resolved!["20"]!.noise_seed)).toBe(true);
    expect(prompt["21"]!.inputs.seed_mode).toBe(-1);
    expect(prompt["22"]!.inputs.noise_seed).toBe(7);
    // The gateway accepted it (the contract carries resolved_inputs), and the job says which seed each node got.
    expect(answers[sent.indexOf(started!)]).toMatchObject({ status: "running" });
    expect(job.resolved_inputs).toEqual(resolved);
  });

  it("a cancel reaches ComfyUI through the cancel-wait long poll, not the next heartbeat", async () => {
    const s = await setup();
    // Heartbeats and event acks never carry the cancel here: only the cancel-wait long poll can deliver it.
    const gateway = s.runner.runner.gateway;
    const heartbeat = gateway.heartbeat.bind(gateway);
    const event = gateway.event.bind(gateway);
    vi.spyOn(gateway, "heartbeat").mockImplementation(async (...args) => ({
      ...(await heartbeat(...args)),
      cancel: false,
    }));
    vi.spyOn(gateway, "event").mockImplementation(async (...args) => ({ ...(await event(...args)), cancel: false }));
    s.comfy.setNodeDelay("ImageBlur", 3_000);
    const jobId = await s.submit({ workflow: withInput() });
    const promptId = await executing(s.runner.runner, "11");
    expect((await suite.tenant.call(`/v1/jobs/${jobId}/cancel`, { method: "POST" })).status).toBeLessThan(300);
    const { job } = await finished(suite.stack, suite.tenant, jobId);
    expect(job.status).toBe("canceled");
    // Interrupted before the SaveImage after the slow node: ComfyUI stopped the prompt rather than finishing it.
    const entry = s.comfy.history()[promptId];
    expect(JSON.stringify(entry?.status?.messages)).toContain("execution_interrupted");
    expect(s.comfy.outputs().filter((o) => o.type === "output")).toHaveLength(0);
  });
});
