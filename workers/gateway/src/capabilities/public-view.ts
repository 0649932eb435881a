/** The capabilities a tenant sees of a pool (pure): classes its node policy refuses are left out. */

import { InputCapability } from "@comfy-edge/shared/contract";
import { z } from "zod";
import { decide, type PolicyLayer } from "../jobs/node-policy.ts";
import type { PoolCapabilities } from "./union.ts";

export const PoolCapabilitiesView = z
  .object({
    pool: z.string(),
    reported: z.boolean().describe("false: no live runner reports capabilities; submits are checked as before"),
    runners: z.int().describe("Live runners (per reported ComfyUI) in the union"),
    unreported_runners: z
      .int()
      .describe(
        "Live runners that send no capability report (older runners); while any is live, submits are not checked",
      ),
    comfyui_versions: z.array(z.string()),
    node_classes: z.record(
      z.string(),
      z.object({ inputs: z.record(z.string(), InputCapability), output_node: z.literal(true).optional() }),
    ),
    models: z.record(z.string(), z.array(z.string())).describe("Model files per folder, relative to the folder"),
  })
  .meta({ id: "PoolCapabilities" });
export type PoolCapabilitiesView = z.infer<typeof PoolCapabilitiesView>;

export function capabilitiesView(
  pool: string,
  caps: PoolCapabilities | null,
  layers: readonly PolicyLayer[],
): PoolCapabilitiesView {
  if (!caps)
    return {
      pool,
      reported: false,
      runners: 0,
      unreported_runners: 0,
      comfyui_versions: [],
      node_classes: {},
      models: {},
    };
  const classes = Object.fromEntries(Object.entries(caps.node_classes).filter(([cls]) => decide(cls, layers).allowed));
  return {
    pool,
    reported: true,
    runners: caps.runners,
    unreported_runners: caps.unreported_runners,
    comfyui_versions: caps.comfyui_versions,
    node_classes: classes,
    models: caps.models,
  };
}
