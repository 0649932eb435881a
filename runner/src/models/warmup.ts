/** Runs a pool's warmup workflow on one ComfyUI and waits for it to finish; throws WarmupError on failure. */
import { randomUUID } from "node:crypto";
import type { Workflow } from "@comfy-edge/shared/contract/jobs";
import type { ComfyClient } from "../comfy/client.ts";
import { outcomeFromHistory } from "../comfy/history.ts";
import { sleep } from "../gateway.ts";

export class WarmupError extends Error {}

export interface WarmupOptions {
  pollMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Queues the workflow and polls its history; resolves with the seconds it took. */
export async function runWarmup(comfy: ComfyClient, workflow: Workflow, options: WarmupOptions = {}): Promise<number> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 600_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const promptId = randomUUID();
  const posted = await comfy.postPrompt(workflow, `comfy-edge-warmup-${promptId}`, promptId, signal);
  if (posted.kind === "rejected") {
    throw new WarmupError(`ComfyUI refused the warmup workflow (HTTP ${posted.status}): ${posted.text.slice(0, 500)}`);
  }
  for (;;) {
    const entry = await comfy.history(posted.promptId, signal);
    const outcome = entry === null ? null : outcomeFromHistory(entry);
    if (outcome?.status === "success") break;
    if (outcome?.status === "error") {
      const data = outcome.data;
      throw new WarmupError(
        `the warmup workflow failed in node ${data.node_id ?? "?"} (${data.node_type ?? "?"}): ${data.exception_message ?? "error"}`.slice(
          0,
          1000,
        ),
      );
    }
    if (outcome?.status === "interrupted") throw new WarmupError("the warmup workflow was interrupted");
    if (timeout.aborted) throw new WarmupError("the warmup workflow did not finish in time");
    await sleep(options.pollMs ?? 250, signal);
  }
  return (performance.now() - started) / 1000;
}
