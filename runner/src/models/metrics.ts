/** Model download and warmup metrics, registered on the runner's own prom-client registry. */
import { createRequire } from "node:module";
import type * as PromClient from "prom-client";

const load = createRequire(import.meta.url);
const Counter: typeof PromClient.Counter = load("prom-client/lib/counter");
const Gauge: typeof PromClient.Gauge = load("prom-client/lib/gauge");

export class ModelMetrics {
  readonly downloadedBytes: PromClient.Counter<"source">;
  readonly downloads: PromClient.Counter<"source" | "outcome">;
  readonly pending: PromClient.Gauge;
  readonly warmupSeconds: PromClient.Gauge;

  constructor(registry: PromClient.Registry) {
    this.downloadedBytes = new Counter({
      name: "comfy_edge_runner_model_download_bytes_total",
      help: "Model bytes downloaded, by source (manifest or url).",
      labelNames: ["source"],
      registers: [registry],
    });
    this.downloads = new Counter({
      name: "comfy_edge_runner_model_downloads_total",
      help: "Model downloads finished, by source and outcome (ok or an error code such as sha256_mismatch).",
      labelNames: ["source", "outcome"],
      registers: [registry],
    });
    this.pending = new Gauge({
      name: "comfy_edge_runner_model_files_pending",
      help: "Manifest files not yet present on this runner.",
      registers: [registry],
    });
    this.warmupSeconds = new Gauge({
      name: "comfy_edge_runner_warmup_seconds",
      help: "How long the last warmup workflow took (NaN before one passed).",
      registers: [registry],
    });
    this.warmupSeconds.set(Number.NaN);
  }
}
