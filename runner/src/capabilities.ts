/**
 * The runner's capability report (docs/capabilities.md): what its ComfyUI can run, read from
 * GET /object_info (node classes, input specs), GET /models and /models/<folder> (model files; servers
 * without them: the loaders' combo lists), GET /system_stats (version, GPU). The digest goes with every
 * lease; the report itself only when the gateway asks (409 capabilities_required). Rebuilt at most every
 * REFRESH_MS (new models appear), and at once after ComfyUI changed version.
 */
import { buildReport, reportDigest } from "../../workers/shared/capabilities/build.ts";
import type { CapabilityReport } from "../../workers/shared/contract/runner.ts";
import { parseJson, sendText } from "./http.ts";
import type { Logger } from "./log.ts";

const REFRESH_MS = 5 * 60_000;
/** /models folders that hold no model files a workflow names. */
const SKIP_FOLDERS = new Set(["configs", "custom_nodes"]);
const OBJECT_INFO_MAX_BYTES = 64 * 1024 * 1024;

export interface ComfyReadings {
  objectInfo: Record<string, unknown>;
  models: Record<string, string[]> | null;
  systemStats: unknown;
}

async function getJson(base: string, path: string, signal: AbortSignal, maxBytes?: number): Promise<unknown | null> {
  const res = await sendText({ method: "GET", url: `${base}${path}`, signal, timeoutMs: 30_000 }, maxBytes);
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`ComfyUI answered GET ${path} with ${res.status}`);
  return parseJson(res.text);
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** Reads what the report is built from. */
export async function readComfy(baseUrl: string, signal: AbortSignal): Promise<ComfyReadings> {
  const base = baseUrl.replace(/\/+$/, "");
  const [objectInfo, folders, systemStats] = await Promise.all([
    getJson(base, "/object_info", signal, OBJECT_INFO_MAX_BYTES),
    getJson(base, "/models", signal),
    getJson(base, "/system_stats", signal),
  ]);
  if (!objectInfo || typeof objectInfo !== "object" || Array.isArray(objectInfo))
    throw new Error("ComfyUI's /object_info is not an object");
  let models: Record<string, string[]> | null = null;
  if (folders !== null) {
    models = {};
    for (const folder of stringList(folders).filter((f) => !SKIP_FOLDERS.has(f))) {
      const files = await getJson(base, `/models/${encodeURIComponent(folder)}`, signal);
      models[folder] = stringList(files);
    }
  }
  return { objectInfo: objectInfo as Record<string, unknown>, models, systemStats };
}

export interface CapabilitySource {
  /** The current report's digest (built now if stale); null when it cannot be built (lease without one). */
  digest(comfyuiVersion: string | null): Promise<string | null>;
  /** The report of the last digest, to send on 409 capabilities_required. */
  current(): { digest: string; report: CapabilityReport } | null;
}

/** One per ComfyUI (slot). */
export class ComfyCapabilities implements CapabilitySource {
  private last: { digest: string; report: CapabilityReport; at: number; version: string | null } | null = null;
  private failedAt = 0;
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

  async digest(comfyuiVersion: string | null): Promise<string | null> {
    const t = this.now();
    const fresh = this.last && t - this.last.at < REFRESH_MS && this.last.version === comfyuiVersion;
    if (fresh) return this.last!.digest;
    // After a failure, keep leasing with the last digest (or none) for a minute before trying again.
    if (t - this.failedAt < 60_000) return this.last?.digest ?? null;
    try {
      const readings = await readComfy(this.comfyUrl, AbortSignal.timeout(60_000));
      const report = buildReport({ ...readings, slots: this.slots });
      const digest = await reportDigest(report);
      if (digest !== this.last?.digest)
        this.log.info("capability report built", {
          digest,
          node_classes: Object.keys(report.node_classes).length,
          model_files: Object.values(report.models).reduce((n, f) => n + f.length, 0),
        });
      this.last = { digest, report, at: t, version: comfyuiVersion };
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
