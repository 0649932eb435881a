/**
 * Issue 12.10: cancel -> `canceled` latency of a running job, on the runner bench's stack (gateway + consumer
 * on workerd, the ComfyUI double, the real runner process). Each job is a chain of ImageInvert nodes that run
 * 50 ms each in the double, so it is still executing when the cancel arrives; ComfyUI (and the double) stops
 * at the next node boundary, so up to one node's 50 ms of the figure is ComfyUI's, not ours.
 * Measured: POST /v1/jobs/:id/cancel sent -> `GET /v1/jobs/:id` with `Prefer: wait` answers `canceled`.
 */
import type { ComfyDouble } from "../test/comfyui-double/index.ts";
import { percentile } from "./lib/load.ts";

const CHAIN = 40;
const NODE_MS = 50;

export interface CancelResult {
  cancels: number;
  cancel_to_canceled_ms: { p50: number; p99: number; max: number };
  node_ms: number;
}

type Prompt = Record<string, { inputs: Record<string, unknown> } | undefined>;

function chainWorkflow(color: number): Record<string, unknown> {
  const wf: Record<string, unknown> = {
    "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color } },
  };
  for (let i = 0; i < CHAIN; i++) {
    wf[String(100 + i)] = { class_type: "ImageInvert", inputs: { image: [i === 0 ? "1" : String(99 + i), 0] } };
  }
  wf["9"] = { class_type: "SaveImage", inputs: { images: [String(99 + CHAIN), 0], filename_prefix: "cancel" } };
  return wf;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `n` jobs one at a time and cancels each while ComfyUI executes it. */
export async function benchCancel(url: string, key: string, comfy: ComfyDouble, n: number): Promise<CancelResult> {
  const auth = { authorization: `Bearer ${key}` };
  comfy.setNodeDelay("ImageInvert", NODE_MS);
  const latencies: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const color = 2_000_000 + i;
      const res = await fetch(`${url}/v1/jobs`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ workflow: chainWorkflow(color) }),
      });
      const job = (await res.json()) as { id: string };
      // Wait (a start-up wait, with a guard) until the double executes the prompt, then a few nodes more.
      const deadline = Date.now() + 30_000;
      while (!comfy.prompts().some((p) => (p.prompt as Prompt)["1"]?.inputs.color === color)) {
        if (Date.now() > deadline) throw new Error(`job ${job.id} never reached ComfyUI`);
        await pause(10);
      }
      await pause(5 * NODE_MS);
      const t0 = performance.now();
      const cancel = await fetch(`${url}/v1/jobs/${job.id}/cancel`, { method: "POST", headers: auth });
      if (cancel.status !== 202) throw new Error(`cancel of ${job.id}: ${cancel.status} ${await cancel.text()}`);
      let status = "";
      while (status !== "canceled") {
        const got = await fetch(`${url}/v1/jobs/${job.id}`, { headers: { ...auth, prefer: "wait=30" } });
        status = ((await got.json()) as { status: string }).status;
        if (status === "succeeded" || status === "failed") throw new Error(`job ${job.id} ended ${status}`);
        if (performance.now() - t0 > 60_000) throw new Error(`job ${job.id} not canceled after 60 s`);
      }
      latencies.push(performance.now() - t0);
    }
  } finally {
    comfy.clearFaults();
  }
  const sorted = latencies.sort((a, b) => a - b);
  return {
    cancels: n,
    cancel_to_canceled_ms: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0 },
    node_ms: NODE_MS,
  };
}
