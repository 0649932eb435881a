/** mergeRunners: a sharded pool's rows merged per runner (latest row wins), live/stale by RUNNER_LIVE_S, no keys out. */
import { describe, expect, it } from "vitest";
import { mergeRunners, type RunnerRow } from "./runners-view.ts";

const NOW = Date.parse("2026-12-05T09:00:00.000Z");
const row = (key: string, last_seen: number, over: Partial<RunnerRow> = {}): RunnerRow => ({
  key,
  runner_id: key.split("/")[1]!,
  version: "1.0.0",
  comfyui_version: null,
  gpu: null,
  vram_bytes: null,
  slots: 1,
  last_seen,
  ...over,
});

describe("mergeRunners", () => {
  it("keeps each runner's latest row across shards, marks live and stale, most recent first", () => {
    const view = mergeRunners(
      [
        [row("tok1/a", NOW - 5_000, { version: "1.0.0" }), row("tok2/b", NOW - 200_000)],
        [row("tok1/a", NOW - 1_000, { version: "1.1.0", gpu: "NVIDIA L4", vram_bytes: 24 * 2 ** 30 })],
      ],
      NOW,
      90_000,
    );
    expect(view).toEqual([
      {
        runner_id: "a",
        version: "1.1.0",
        comfyui_version: null,
        gpu: "NVIDIA L4",
        vram_gb: 24,
        slots: 1,
        last_seen_at: "2026-12-05T08:59:59.000Z",
        state: "live",
      },
      expect.objectContaining({ runner_id: "b", state: "stale", gpu: null, vram_gb: null }),
    ]);
    expect(JSON.stringify(view)).not.toContain("tok");
  });

  it("two tokens' runners with the same label stay two rows", () => {
    const view = mergeRunners([[row("tok1/gpu", NOW), row("tok2/gpu", NOW - 10)]], NOW, 90_000);
    expect(view.map((r) => r.runner_id)).toEqual(["gpu", "gpu"]);
  });
});
