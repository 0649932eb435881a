/** Public pool views shared by the gateway (routes/pools.ts, pools/runners-view.ts) and the console. */
import { z } from "zod";

export const PoolRunnerView = z
  .object({
    runner_id: z.string().describe("The runner's own label (RUNNER_ID), as in `started` job events"),
    version: z.string().describe("Runner version"),
    comfyui_version: z.string().nullable(),
    gpu: z.string().nullable().describe("GPU name from the runner's capability report; null without one"),
    vram_gb: z.number().nullable().describe("GPU memory in GiB from the capability report"),
    slots: z.int().describe("Jobs the runner runs at once"),
    last_seen_at: z.iso.datetime().describe("Its last lease call"),
    state: z.enum(["live", "stale"]).describe("live: asked for work within RUNNER_LIVE_S (default 90 s)"),
  })
  .meta({ id: "PoolRunnerView" });
export type PoolRunnerView = z.infer<typeof PoolRunnerView>;
