/**
 * Prometheus metrics (prom-client), on a registry of the runner's own. Process CPU and memory are computed
 * at scrape time from process.cpuUsage()/memoryUsage() (prom-client's default collectors also sample the
 * event loop continuously, which costs CPU on an idle runner).
 *
 * Only the four prom-client classes used here are loaded: its index also loads the cluster aggregator,
 * the pushgateway client and the default collectors, about 10 MB of resident memory an idle runner does
 * not need.
 */
import { createRequire } from "node:module";
import type * as PromClient from "prom-client";

const load = createRequire(import.meta.url);
const Registry: typeof PromClient.Registry = load("prom-client/lib/registry");
const Counter: typeof PromClient.Counter = load("prom-client/lib/counter");
const Gauge: typeof PromClient.Gauge = load("prom-client/lib/gauge");
const Histogram: typeof PromClient.Histogram = load("prom-client/lib/histogram");
type Registry = PromClient.Registry;
type Counter<T extends string> = PromClient.Counter<T>;
type Gauge<T extends string = string> = PromClient.Gauge<T>;
type Histogram<T extends string = string> = PromClient.Histogram<T>;

export type JobOutcome = "succeeded" | "failed" | "canceled" | "given_back" | "lease_lost";

export class RunnerMetrics {
  readonly registry: Registry;
  readonly jobs: Counter<"outcome" | "code">;
  readonly jobSeconds: Histogram<"phase">;
  readonly comfyUp: Gauge<"slot">;
  readonly slotsBusy: Gauge;
  readonly slotsTotal: Gauge;
  readonly leaseWaitSeconds: Histogram;
  readonly gatewayErrors: Counter<"call">;
  readonly wsReconnects: Counter<"slot">;

  constructor() {
    const registry = new Registry();
    this.registry = registry;
    this.jobs = new Counter({
      name: "comfy_edge_runner_jobs_total",
      help: "Jobs finished by this runner, by outcome (and error code for failures).",
      labelNames: ["outcome", "code"],
      registers: [registry],
    });
    this.jobSeconds = new Histogram({
      name: "comfy_edge_runner_job_seconds",
      help: "Job durations by phase: queue (lease to ComfyUI start), run (ComfyUI execution), upload (outputs), total.",
      labelNames: ["phase"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    });
    this.comfyUp = new Gauge({
      name: "comfy_edge_runner_comfyui_up",
      help: "1 when the slot's ComfyUI answers /system_stats, else 0.",
      labelNames: ["slot"],
      registers: [registry],
    });
    this.slotsBusy = new Gauge({
      name: "comfy_edge_runner_slots_busy",
      help: "Slots running a job.",
      registers: [registry],
    });
    this.slotsTotal = new Gauge({
      name: "comfy_edge_runner_slots",
      help: "Slots (one per ComfyUI instance).",
      registers: [registry],
    });
    this.leaseWaitSeconds = new Histogram({
      name: "comfy_edge_runner_lease_wait_seconds",
      help: "Time from asking the gateway for a job to getting one.",
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 25, 60, 300, 900],
      registers: [registry],
    });
    this.gatewayErrors = new Counter({
      name: "comfy_edge_runner_gateway_errors_total",
      help: "Failed calls to the gateway, by call.",
      labelNames: ["call"],
      registers: [registry],
    });
    this.wsReconnects = new Counter({
      name: "comfy_edge_runner_comfyui_ws_reconnects_total",
      help: "Websocket reconnections to ComfyUI.",
      labelNames: ["slot"],
      registers: [registry],
    });
    new Gauge({
      name: "process_cpu_user_seconds_total",
      help: "User CPU time spent by this process, in seconds.",
      registers: [registry],
      collect() {
        this.set(process.cpuUsage().user / 1e6);
      },
    });
    new Gauge({
      name: "process_cpu_system_seconds_total",
      help: "System CPU time spent by this process, in seconds.",
      registers: [registry],
      collect() {
        this.set(process.cpuUsage().system / 1e6);
      },
    });
    new Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      registers: [registry],
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
