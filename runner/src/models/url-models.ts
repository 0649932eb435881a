/**
 * Per-job models by URL (docs/models.md): a model input given as a URL is downloaded once through the
 * guarded fetcher into its ComfyUI folder under a name derived from the URL, kept in the LRU cache
 * (MODEL_CACHE_GB), and the input rewritten to that name before the prompt goes to ComfyUI. Two jobs naming
 * the same URL share one download (also when they ask at the same time).
 */
import { createHash } from "node:crypto";
import type { Workflow } from "@comfy-edge/shared/contract/jobs";
import { urlModelInputs } from "@comfy-edge/shared/models/url-inputs";
import type { Logger } from "../log.ts";
import { type DownloadNet, describeFailure, downloadModel } from "./download.ts";
import type { ModelMetrics } from "./metrics.ts";
import type { ModelStore } from "./store.ts";

const MODEL_EXTENSIONS = [".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".sft", ".pkl", ".gguf"];

/** `url-<16 hex of SHA-256(url)>-<last path segment>`, with an extension ComfyUI lists. */
export function urlModelFilename(url: string): string {
  const hash = createHash("sha256").update(url).digest("hex").slice(0, 16);
  let base = "model";
  try {
    const last = new URL(url).pathname.split("/").pop() ?? "";
    base =
      decodeURIComponent(last)
        .replace(/[^A-Za-z0-9_.+-]/g, "_")
        .replace(/^\.+/, "")
        .slice(0, 120) || "model";
  } catch {
    // Not a URL: the gateway refused it already; keep the fallback name.
  }
  if (!MODEL_EXTENSIONS.some((ext) => base.toLowerCase().endsWith(ext))) base += ".safetensors";
  return `url-${hash}-${base}`;
}

export interface UrlModelsOptions {
  store: ModelStore;
  net: DownloadNet;
  log: Logger;
  metrics?: ModelMetrics | null;
  /** Bound on the cached (non-manifest) files, in bytes. */
  cacheBytes: number;
  /** Size cap of one file: the pool's url_models.max_bytes (null: URL models are off here). */
  maxBytes: () => number | null;
}

export class UrlModelError extends Error {
  readonly param: string;
  constructor(message: string, param: string, options?: { cause?: unknown }) {
    super(message, options);
    this.param = param;
  }
}

export class UrlModels {
  private readonly o: UrlModelsOptions;
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(options: UrlModelsOptions) {
    this.o = options;
  }

  /**
   * Downloads (or reuses) every URL model of the workflow; answers the rewritten workflow (a copy) and a
   * release function to call when the job ends (until then its files are never evicted).
   */
  async prepare(workflow: Workflow, signal?: AbortSignal): Promise<{ workflow: Workflow; release: () => void }> {
    const found = urlModelInputs(workflow);
    if (found.length === 0) return { workflow, release: () => undefined };
    const out: Workflow = structuredClone(workflow);
    const releases: Array<() => void> = [];
    const release = () => {
      for (const r of releases.splice(0)) r();
    };
    try {
      for (const input of found) {
        const param = `workflow.${input.nodeId}.inputs.${input.input}`;
        const filename = urlModelFilename(input.url);
        releases.push(this.o.store.acquire(input.folder, filename));
        await this.ensure(input.url, input.folder, filename, param, signal);
        const node = out[input.nodeId];
        if (node !== undefined) node.inputs[input.input] = filename;
      }
      await this.o.store.evict(this.o.cacheBytes);
      return { workflow: out, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  private ensure(url: string, folder: string, filename: string, param: string, signal?: AbortSignal): Promise<void> {
    const key = `${folder}/${filename}`;
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    const task = this.download(url, folder, filename, param, signal).finally(() => this.inflight.delete(key));
    this.inflight.set(key, task);
    return task;
  }

  private async download(url: string, folder: string, filename: string, param: string, signal?: AbortSignal) {
    const { store } = this.o;
    const have = await store.verified(folder, filename);
    if (have !== undefined && have.url === url) return;
    const maxBytes = this.o.maxBytes();
    if (maxBytes === null) throw new UrlModelError("this pool does not accept model files by URL", param);
    try {
      const result = await downloadModel(
        { url, dest: store.path(folder, filename), sha256: null, size: null, maxBytes, signal },
        this.o.net,
      );
      await store.record({ folder, filename, source: "url", url, sha256: result.sha256, bytes: result.bytes });
      this.o.metrics?.downloadedBytes.inc({ source: "url" }, result.bytes - result.resumedFrom);
      this.o.metrics?.downloads.inc({ source: "url", outcome: "ok" });
      this.o.log.info("model downloaded for a job", { file: `${folder}/${filename}`, bytes: result.bytes });
    } catch (error) {
      const { code, message } = describeFailure(error);
      this.o.metrics?.downloads.inc({ source: "url", outcome: code });
      this.o.log.warn("model download for a job failed", { file: `${folder}/${filename}`, code, error });
      throw new UrlModelError(`the model at ${param} could not be downloaded (${code}): ${message}`, param, {
        cause: error,
      });
    }
  }
}
