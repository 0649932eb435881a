/** The capability routes' calls for test/openapi/responses.test.ts (each documented status answered once). */
import { reportDigest } from "@comfy-edge/shared/capabilities/build";
import type { CapabilityReport } from "@comfy-edge/shared/contract/runner";
import { exercisePoolGroups } from "./openapi-group-calls.ts";

type Call = (
  method: string,
  template: string,
  options: { token?: string; body?: unknown; url?: string },
) => Promise<unknown>;

/**
 * PUT /runner/v1/capabilities (200, 422, 400) and a lease with an unknown digest (409). Changes no dispatch.
 * Then the pool-group routes and GET /v1/pools/:name (openapi-group-calls.ts).
 */
export async function exerciseRunnerCapabilities(
  call: Call,
  runnerToken: string,
  ids: Parameters<typeof exercisePoolGroups>[1],
): Promise<void> {
  const report: CapabilityReport = {
    comfyui_version: "0.33.0",
    node_classes: { SaveImage: { inputs: { images: { type: "IMAGE" } }, output_node: true } },
    models: { checkpoints: ["sd15.safetensors"] },
    gpu: null,
    slots: 1,
  };
  const body = { digest: await reportDigest(report), report };
  const token = runnerToken;
  await call("PUT", "/runner/v1/capabilities", { token, body });
  await call("PUT", "/runner/v1/capabilities", { token, body: { ...body, digest: "0".repeat(64) } });
  await call("PUT", "/runner/v1/capabilities", { token, body: { digest: 5 } });
  await call("POST", "/runner/v1/lease", {
    token,
    body: { runner_id: "oa-caps", version: "t", wait_s: 0, capabilities_digest: "1".repeat(64) },
  });
  await exercisePoolGroups(call, ids);
}
