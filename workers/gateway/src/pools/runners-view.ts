/**
 * The runners of a pool for GET /v1/pools/:name: each runner seen in the last RECENT_MS (runners_seen) with
 * its version, slots and last lease, and its GPU from the capability report it last leased with (runner_caps;
 * null when it leases without one). A shard's rows carry the runner's token id so that the route can merge
 * shards (a runner leases from every shard); the merged view drops it: tenants see the runner's own label.
 */
import type { PoolRunnerView } from "@comfy-edge/shared/contract/pools";
import type { CapabilityStore } from "./capability-store.ts";

/** Runners last seen longer ago than this are left out. */
export const RECENT_MS = 24 * 3600_000;
/** Runners listed at most (most recently seen first). */
export const MAX_RUNNERS = 200;

export interface RunnerRow {
  /** Internal: merges shards; never returned to tenants. */
  key: string;
  runner_id: string;
  version: string;
  comfyui_version: string | null;
  gpu: string | null;
  vram_bytes: number | null;
  slots: number;
  last_seen: number;
}

export type RunnerView = PoolRunnerView;

/** One shard's runners seen since `now - RECENT_MS`, with the GPU of the report each last leased with. */
export function runnerRows(sql: SqlStorage, caps: CapabilityStore, now: number): RunnerRow[] {
  const rows = sql
    .exec<{
      token_id: string;
      runner_id: string;
      version: string;
      comfyui_version: string | null;
      slots: number;
      last_seen: number;
      digest: string | null;
    }>(
      `SELECT s.token_id, s.runner_id, s.version, s.comfyui_version, s.slots, s.last_seen,
         (SELECT c.digest FROM runner_caps c WHERE c.token_id = s.token_id AND c.runner_id = s.runner_id
           ORDER BY c.last_seen DESC LIMIT 1) AS digest
       FROM runners_seen s WHERE s.last_seen > ? ORDER BY s.last_seen DESC LIMIT ?`,
      now - RECENT_MS,
      MAX_RUNNERS,
    )
    .toArray();
  return rows.map((r) => {
    const report = r.digest ? caps.get(r.digest)?.report : undefined;
    return {
      key: `${r.token_id}/${r.runner_id}`,
      runner_id: r.runner_id,
      version: r.version,
      comfyui_version: r.comfyui_version ?? report?.comfyui_version ?? null,
      gpu: report?.gpu?.name ?? null,
      vram_bytes: report?.gpu?.vram_bytes ?? null,
      slots: r.slots,
      last_seen: r.last_seen,
    };
  });
}

/** The shards' rows merged (pure): per runner its latest row; live when seen within `liveMs`, most recent first. */
export function mergeRunners(parts: RunnerRow[][], now: number, liveMs: number): RunnerView[] {
  const latest = new Map<string, RunnerRow>();
  for (const row of parts.flat()) {
    const seen = latest.get(row.key);
    if (!seen || row.last_seen > seen.last_seen) latest.set(row.key, row);
  }
  return [...latest.values()]
    .sort((a, b) => b.last_seen - a.last_seen || a.runner_id.localeCompare(b.runner_id))
    .slice(0, MAX_RUNNERS)
    .map((r) => ({
      runner_id: r.runner_id,
      version: r.version,
      comfyui_version: r.comfyui_version,
      gpu: r.gpu,
      vram_gb: r.vram_bytes === null ? null : Math.round((r.vram_bytes / 2 ** 30) * 10) / 10,
      slots: r.slots,
      last_seen_at: new Date(r.last_seen).toISOString(),
      state: now - r.last_seen < liveMs ? "live" : "stale",
    }));
}
