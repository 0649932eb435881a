/** A pool's load as Prometheus text exposition format 0.0.4 (pure), for KEDA or an HPA. */
import type { PoolMetrics } from "./load.ts";

const GAUGES: Array<[keyof PoolMetrics, string, string]> = [
  ["queued", "comfy_edge_pool_queued_jobs", "Jobs waiting in the pool's queue"],
  ["running", "comfy_edge_pool_running_jobs", "Jobs leased to a runner"],
  ["live_runners", "comfy_edge_pool_live_runners", "Runners that asked for work in the last 90 s"],
  ["waiting_runners", "comfy_edge_pool_waiting_runners", "Runners waiting on a long-poll lease now"],
  ["slots", "comfy_edge_pool_slots", "Slots of the live runners"],
  ["free_slots", "comfy_edge_pool_free_slots", "Live slots without a job"],
  ["oldest_queued_age_s", "comfy_edge_pool_oldest_queued_age_seconds", "Age of the oldest queued job"],
  [
    "estimated_wait_s",
    "comfy_edge_pool_estimated_wait_seconds",
    "Estimated wait of a job submitted now (NaN: no live runner)",
  ],
];

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

export function metricsText(pool: string, m: PoolMetrics): string {
  const label = `{pool="${escapeLabel(pool)}"}`;
  const lines: string[] = [];
  for (const [key, name, help] of GAUGES) {
    const v = m[key];
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name}${label} ${v === null ? "NaN" : String(v)}`);
  }
  return `${lines.join("\n")}\n`;
}
