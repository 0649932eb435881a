/**
 * One line of `run` / `jobs watch` output per job event (docs/events.md), pure: the progress bar, the seeds
 * the runner chose (`started.resolved_inputs`), LLM steps, and previews as a count with their step (never
 * the frame's base64).
 */

/** A progress bar: `[#####-----]  50%  node 3  step 10/20`. */
export function bar(value: number, max: number, nodeId: string | null, width = 24): string {
  const ratio = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
  const filled = Math.round(ratio * width);
  const pct = `${Math.round(ratio * 100)}%`.padStart(4);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${pct}${nodeId ? `  node ${nodeId}` : ""}  step ${value}/${max}`;
}

/** What a watch remembers between events (previews are counted). */
export interface WatchState {
  previews: number;
}

const MAX_TEXT = 80;
const quote = (s: string) => JSON.stringify(s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 3)}...` : s);
const str = (v: unknown) => (typeof v === "string" ? v : null);

/** `3.seed=4242, 7.noise_seed=11` from `{"3": {"seed": 4242}, "7": {"noise_seed": 11}}`. */
export function resolvedText(resolved: unknown): string {
  if (!resolved || typeof resolved !== "object") return "";
  return Object.entries(resolved as Record<string, unknown>)
    .flatMap(([node, inputs]) =>
      inputs && typeof inputs === "object"
        ? Object.entries(inputs as Record<string, unknown>).map(([name, v]) => `${node}.${name}=${JSON.stringify(v)}`)
        : [],
    )
    .join(", ");
}

/** The data: URL's size in KiB (from its base64 length). */
function frameKib(image: unknown): string {
  const b64 = str(image)?.replace(/^data:[^,]*,/, "");
  return b64 ? `${Math.max(1, Math.round((b64.length * 3) / 4 / 1024))} KiB` : "";
}

/** The line for one event ("" for an event with nothing to show). */
export function eventLine(event: string, data: Record<string, unknown>, state: WatchState): string {
  switch (event) {
    case "llm": {
      const usage = data.usage as { prompt_tokens?: number; completion_tokens?: number } | null | undefined;
      const tokens = usage ? `, ${usage.prompt_tokens ?? 0}+${usage.completion_tokens ?? 0} tokens` : "";
      return `llm step: ${str(data.model) ?? "?"} (cache ${str(data.cache) ?? "?"}${tokens}) wrote ${quote(str(data.output) ?? "")}`;
    }
    case "queued":
      return `queued (attempt ${data.attempt ?? 1})`;
    case "started": {
      const runner = str(data.runner_id);
      const resolved = resolvedText(data.resolved_inputs);
      return `started (attempt ${data.attempt ?? 1}${runner ? `, runner ${runner}` : ""})${resolved ? `; resolved ${resolved}` : ""}`;
    }
    case "progress":
      return bar(Number(data.value), Number(data.max), str(data.node_id));
    case "preview": {
      state.previews++;
      const parts = [
        typeof data.value === "number" && typeof data.max === "number" ? `step ${data.value}/${data.max}` : "",
        str(data.node_id) ? `node ${data.node_id}` : "",
        frameKib(data.image),
      ].filter(Boolean);
      return `preview ${state.previews}${parts.length ? ` (${parts.join(", ")})` : ""}`;
    }
    case "output":
      return `output ${data.index}: ${data.filename} (${data.content_type}, ${data.size} bytes)`;
    case "succeeded":
    case "failed":
    case "canceled":
      return event;
    default:
      return "";
  }
}
