/** Taking a prompt back out of ComfyUI (cancel, timeout, lease lost, shutdown) and waiting for it to end. */
import type { Logger } from "../log.ts";
import type { ComfyClient } from "./client.ts";
import type { PromptWatcher } from "./watcher.ts";

/**
 * Pending -> POST /queue {delete}; running -> POST /interrupt {prompt_id} (never a global interrupt).
 * Best effort: ComfyUI may be gone.
 */
export async function stopPrompt(comfy: ComfyClient, watcher: PromptWatcher, log: Logger): Promise<void> {
  if (watcher.isSettled) return;
  const id = watcher.promptId;
  const signal = AbortSignal.timeout(10_000);
  try {
    const queue = await comfy.queue(signal);
    if (queue.pending.includes(id)) {
      await comfy.deleteFromQueue([id], signal);
      log.info("prompt removed from the comfyui queue", { prompt_id: id });
      const after = await comfy.queue(signal);
      if (after.running.includes(id)) await comfy.interrupt(id, signal);
    } else if (queue.running.includes(id)) {
      await comfy.interrupt(id, signal);
      log.info("prompt interrupted in comfyui", { prompt_id: id });
    }
  } catch (err) {
    log.warn("could not stop the prompt in comfyui", { prompt_id: id, error: err });
  }
  watcher.check("stopped the prompt");
}

/** Waits (bounded by `timeoutMs`, or until `hurry` aborts) until ComfyUI confirms the prompt is over. */
export async function waitSettled(watcher: PromptWatcher, timeoutMs: number, hurry: AbortSignal): Promise<void> {
  if (watcher.isSettled) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    hurry.addEventListener("abort", () => resolve(), { once: true });
  });
  await Promise.race([
    watcher.outcome.then(
      () => {},
      () => {},
    ),
    timeout,
  ]);
  clearTimeout(timer);
}
