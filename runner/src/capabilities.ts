/**
 * The runner's capability report (docs/capabilities.md): what its ComfyUI can run, read from
 * GET /object_info (node classes, input specs), GET /models and /models/<folder> (model files; servers
 * without them: the loaders' combo lists), GET /system_stats (version, GPU). The digest goes with every
 * lease; the report itself only when the gateway asks (409 capabilities_required). Rebuilt at most every
 * REFRESH_MS, at once after ComfyUI changed version, and before the next lease after the runner's model
 * files changed (`invalidate`: a download landed, a cached file was evicted).
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CapabilityReport } from "@comfy-edge/shared/contract/runner";
import type { BuildAnswer, BuildRequest } from "./capabilities-worker.ts";
import type { Logger } from "./log.ts";

export { readComfy } from "./capabilities-read.ts";

const REFRESH_MS = 5 * 60_000;

/** Reads the server and builds its report in a child process (capabilities-worker.ts); rejects on failure. */
export function buildInWorker(comfyUrl: string, slots: number): Promise<{ digest: string; report: CapabilityReport }> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL("./capabilities-worker.ts", import.meta.url)), [], {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      serialization: "advanced",
    });
    const timer = setTimeout(() => child.kill(), 120_000);
    let settled = false;
    child.once("message", (answer: BuildAnswer) => {
      settled = true;
      clearTimeout(timer);
      if (!answer.ok) return reject(new Error(answer.error));
      // The child built it from the contract's shapes; parsed again here as any boundary is.
      resolve({ digest: answer.digest, report: CapabilityReport.parse(JSON.parse(answer.text)) });
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      if (!settled) reject(err);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (!settled) reject(new Error(`the capability builder exited (${signal ?? code}) without an answer`));
    });
    const request: BuildRequest = { comfyUrl, slots };
    child.send(request);
  });
}

export interface CapabilitySource {
  /** The current report's digest (built now if stale); null when it cannot be built (lease without one). */
  digest(comfyuiVersion: string | null): Promise<string | null>;
  /** The report of the last digest, to send on 409 capabilities_required. */
  current(): { digest: string; report: CapabilityReport } | null;
}

/** One per ComfyUI (slot). */
export class ComfyCapabilities implements CapabilitySource {
  private last: {
    digest: string;
    report: CapabilityReport;
    at: number;
    version: string | null;
    generation: number;
  } | null = null;
  /** Bumped by `invalidate`: a report built before the bump is stale, even one whose build was under way. */
  private generation = 0;
  private failedAt = 0;
  private disabled = false;
  private readonly comfyUrl: string;
  private readonly slots: number;
  private readonly log: Logger;
  private readonly now: () => number;
  constructor(comfyUrl: string, slots: number, log: Logger, now: () => number = Date.now) {
    this.comfyUrl = comfyUrl;
    this.slots = slots;
    this.log = log;
    this.now = now;
  }

  current() {
    return this.last ? { digest: this.last.digest, report: this.last.report } : null;
  }

  /** Model files changed on this host (e.g. a download finished): rebuild the report before the next lease. */
  invalidate(): void {
    this.generation += 1;
    this.failedAt = 0;
  }

  /** The gateway predates capabilities (it refused capabilities_digest): lease without one from now on. */
  disable(): void {
    if (!this.disabled) this.log.warn("the gateway does not take capability reports; leasing without one");
    this.disabled = true;
  }

  async digest(comfyuiVersion: string | null): Promise<string | null> {
    if (this.disabled) return null;
    const t = this.now();
    const generation = this.generation;
    const last = this.last;
    if (last && t - last.at < REFRESH_MS && last.version === comfyuiVersion && last.generation === generation)
      return last.digest;
    // After a failure, keep leasing with the last digest (or none) for a minute before trying again.
    if (t - this.failedAt < 60_000) return this.last?.digest ?? null;
    try {
      const { digest, report } = await buildInWorker(this.comfyUrl, this.slots);
      if (digest !== this.last?.digest)
        this.log.info("capability report built", {
          digest,
          node_classes: Object.keys(report.node_classes).length,
          model_files: Object.values(report.models).reduce((n, f) => n + f.length, 0),
        });
      this.last = { digest, report, at: t, version: comfyuiVersion, generation };
      return digest;
    } catch (err) {
      this.failedAt = t;
      this.log.warn("could not read ComfyUI's capabilities; leasing without a report", { error: err });
      return this.last?.digest ?? null;
    }
  }
}

/** Sends the current report after the gateway said it lacks it; false if there is none or sending failed. */
export async function publishCapabilities(
  source: CapabilitySource,
  put: (body: { digest: string; report: CapabilityReport }) => Promise<void>,
  log: Logger,
): Promise<boolean> {
  const current = source.current();
  if (!current) return false;
  try {
    await put(current);
    log.info("capability report sent to the gateway", { digest: current.digest });
    return true;
  } catch (err) {
    log.warn("sending the capability report failed", { error: err });
    return false;
  }
}
