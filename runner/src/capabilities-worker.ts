/**
 * Builds the capability report in a short-lived child process (runner/src/capabilities.ts): ComfyUI's
 * /object_info is megabytes of JSON, and parsing it in the runner would grow the long-running process's
 * memory for good (about 27 MB of RSS for the 0.33 server, a worker thread more). The child's memory goes
 * back to the system when it exits; the runner gets the canonical JSON text (about 270 KB) and its digest.
 */
import { buildReport, canonicalJson } from "@comfy-edge/shared/capabilities/build";
import { sha256Hex } from "@comfy-edge/shared/crypto";
import { readComfy } from "./capabilities-read.ts";

export interface BuildRequest {
  comfyUrl: string;
  slots: number;
}
export type BuildAnswer = { ok: true; digest: string; text: string } | { ok: false; error: string };

async function build(req: BuildRequest): Promise<BuildAnswer> {
  try {
    const readings = await readComfy(req.comfyUrl, AbortSignal.timeout(60_000));
    const text = canonicalJson(buildReport({ ...readings, slots: req.slots }));
    return { ok: true, digest: await sha256Hex(text), text };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

process.once("message", (req: BuildRequest) => {
  void build(req).then((answer) => process.send?.(answer, () => process.exit(0)));
});
