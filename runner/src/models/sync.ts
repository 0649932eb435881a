/**
 * Reconciles this runner's model folders with its pool's manifest: each missing (or changed) file is
 * downloaded, one at a time, verified (size, SHA-256) and renamed into place; a failed file is reported
 * and retried on the next sync. The state of every file is kept for the runner's report.
 */
import type { ModelEntry, RunnerModelsReport } from "@comfy-edge/shared/contract/models";
import type { Logger } from "../log.ts";
import { type DownloadNet, describeFailure, downloadModel, ModelDownloadError } from "./download.ts";
import type { ModelMetrics } from "./metrics.ts";
import { type ModelStore, relPath } from "./store.ts";

export type FileReport = RunnerModelsReport["files"][number];

export interface SyncOptions {
  store: ModelStore;
  net: DownloadNet;
  log: Logger;
  metrics?: ModelMetrics | null;
  /** Attempts per file per sync (a dropped connection resumes with a Range request). Default 3. */
  attempts?: number;
  /** Cap on one file when the manifest gives no size. */
  maxFileBytes?: number;
  onChange?: () => void;
}

export class ManifestSync {
  private readonly o: SyncOptions;
  /** By folder/filename: manifest files and their state. */
  readonly files = new Map<string, FileReport>();
  /** Files that failed in a way the same bytes would repeat (a wrong hash, a refused URL): not fetched again
   * until `retryAll` (a new manifest digest), so a bad entry is not downloaded every round. */
  private readonly givenUp = new Map<string, string>();

  constructor(options: SyncOptions) {
    this.o = options;
  }

  retryAll(): void {
    this.givenUp.clear();
  }

  /** Downloads what is missing; resolves true when every manifest file is present. */
  async reconcile(models: readonly ModelEntry[], signal?: AbortSignal): Promise<boolean> {
    const { store } = this.o;
    const wanted = new Set(models.map((m) => relPath(m.folder, m.filename)));
    for (const key of [...this.files.keys()]) if (!wanted.has(key)) this.files.delete(key);
    await store.demote(wanted);
    for (const model of models) {
      this.files.set(relPath(model.folder, model.filename), {
        folder: model.folder,
        filename: model.filename,
        state: "pending",
        bytes: 0,
        size: model.size ?? null,
        error: null,
        source: "manifest",
      });
    }
    this.update();
    let ok = true;
    for (const model of models) {
      signal?.throwIfAborted();
      if (!(await this.ensure(model, signal))) ok = false;
    }
    return ok;
  }

  private update(): void {
    this.o.metrics?.pending.set([...this.files.values()].filter((f) => f.state !== "present").length);
    this.o.onChange?.();
  }

  private async ensure(model: ModelEntry, signal?: AbortSignal): Promise<boolean> {
    const { store, log } = this.o;
    const file = this.files.get(relPath(model.folder, model.filename));
    if (file === undefined) return false;
    const have = await store.verified(model.folder, model.filename);
    if (have !== undefined && have.sha256 === model.sha256) {
      if (have.source !== "manifest") await store.record({ ...have, source: "manifest", url: model.url });
      Object.assign(file, { state: "present", bytes: have.bytes, size: have.bytes, error: null });
      this.update();
      return true;
    }
    const attemptKey = `${model.url}|${model.sha256}|${model.size ?? ""}|${relPath(model.folder, model.filename)}`;
    const gaveUp = this.givenUp.get(attemptKey);
    if (gaveUp !== undefined) {
      Object.assign(file, { state: "failed", error: gaveUp });
      this.update();
      return false;
    }
    const attempts = this.o.attempts ?? 3;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      Object.assign(file, { state: "downloading", error: null });
      this.update();
      try {
        const result = await downloadModel(
          {
            url: model.url,
            dest: store.path(model.folder, model.filename),
            sha256: model.sha256,
            size: model.size ?? null,
            maxBytes: this.o.maxFileBytes ?? 2 ** 45,
            signal,
            onProgress: (bytes) => {
              file.bytes = bytes;
            },
          },
          this.o.net,
        );
        await store.record({
          folder: model.folder,
          filename: model.filename,
          source: "manifest",
          url: model.url,
          sha256: result.sha256,
          bytes: result.bytes,
        });
        this.o.metrics?.downloadedBytes.inc({ source: "manifest" }, result.bytes - result.resumedFrom);
        this.o.metrics?.downloads.inc({ source: "manifest", outcome: "ok" });
        Object.assign(file, { state: "present", bytes: result.bytes, size: result.bytes });
        log.info("model downloaded", {
          file: relPath(model.folder, model.filename),
          bytes: result.bytes,
          resumed_from: result.resumedFrom,
        });
        this.update();
        return true;
      } catch (error) {
        if (signal?.aborted) throw error;
        const { code, message } = describeFailure(error);
        this.o.metrics?.downloads.inc({ source: "manifest", outcome: code });
        Object.assign(file, { state: "failed", error: `${code}: ${message}` });
        log.warn("model download failed", {
          file: relPath(model.folder, model.filename),
          code,
          error: message,
          attempt,
        });
        this.update();
        if (!(error instanceof ModelDownloadError && error.retryable)) {
          this.givenUp.set(attemptKey, `${code}: ${message}`);
          return false;
        }
      }
    }
    return false;
  }
}
