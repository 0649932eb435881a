/**
 * One job's model inputs given as URLs (docs/models.md): `prepare` downloads them (through the cache) and
 * answers the workflow with local file names; a download that fails fails the job (JobFailure,
 * model_download_failed). The slot calls `release` when the job ended, so its files may be evicted again.
 */
import type { Workflow } from "@comfy-edge/shared/contract/jobs";
import { JobFailure } from "../job-failure.ts";
import type { UrlModels } from "./url-models.ts";

export class JobModels {
  private readonly models: UrlModels | null;
  private releases: Array<() => void> = [];

  constructor(models: UrlModels | null) {
    this.models = models;
  }

  async prepare(workflow: Workflow, signal: AbortSignal): Promise<Workflow> {
    if (this.models === null) return workflow;
    try {
      const prepared = await this.models.prepare(workflow, signal);
      this.releases.push(prepared.release);
      return prepared.workflow;
    } catch (error) {
      // Loaded here, not at start: a runner without model assets never loads the download modules (about 1 MB);
      // with them, runtime.ts has already loaded these.
      const { UrlModelError } = await import("./url-models.ts");
      const { ModelDownloadError } = await import("./download.ts");
      if (!(error instanceof UrlModelError)) throw error;
      const retryable = error.cause instanceof ModelDownloadError && error.cause.retryable;
      throw new JobFailure({ code: "model_download_failed", message: error.message }, retryable);
    }
  }

  release(): void {
    for (const release of this.releases.splice(0)) release();
  }
}
