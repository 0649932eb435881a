/**
 * How many output files a workflow is expected to save, so the lease can carry that many presigned PUT URLs
 * and the runner uploads without a round trip to ask for them (issue 14.6). An estimate: saving nodes
 * (class names starting with `Save`, plus common video writers; previews when nothing else saves) times
 * the largest literal `batch_size`, at least 1 and at most PREMINT_MAX. The runner mints more if it needs
 * more (POST /runner/v1/leases/:id/uploads), so a low estimate costs a round trip, never an output.
 */
import type { Workflow } from "@comfy-edge/shared/contract";

export const PREMINT_MAX = 16;
const VIDEO_WRITERS = new Set(["VHS_VideoCombine"]);
const PREVIEWS = new Set(["PreviewImage", "PreviewAudio"]);

export function expectedOutputs(workflow: Workflow, cap = PREMINT_MAX): number {
  let saving = 0;
  let previews = 0;
  let batch = 1;
  for (const node of Object.values(workflow)) {
    const cls = node.class_type;
    if (cls.startsWith("Save") || VIDEO_WRITERS.has(cls)) saving += 1;
    else if (PREVIEWS.has(cls)) previews += 1;
    const b = node.inputs?.batch_size;
    if (typeof b === "number" && Number.isInteger(b) && b > batch) batch = b;
  }
  const nodes = saving > 0 ? saving : previews;
  return Math.max(1, Math.min(cap, nodes * batch));
}
