/**
 * Pools page, runners (GET /v1/pools/:name `runner_list`, `queued`, `estimated_wait_s`): each runner seen in
 * the last day with its runner and ComfyUI versions, GPU, slots, health (live/stale) and last lease, and the
 * pool's queue depth and wait estimate.
 */

import type { PoolRunnerView } from "@comfy-edge/shared/contract/pools";
import { optional, type Session } from "../api.ts";
import { h, ms, statusBadge, when } from "../dom.ts";
import { table } from "../table.ts";
import type { ModelState } from "./pool-models.ts";

export interface PoolDetail {
  queued: number;
  running: number;
  estimated_wait_s?: number | null;
  runner_list?: PoolRunnerView[];
  models?: ModelState;
}

export function poolDetail(s: Session, pool: string): Promise<PoolDetail | null> {
  return optional<PoolDetail>(s, `/v1/pools/${encodeURIComponent(pool)}`).catch(() => null);
}

function fact(term: string, value: string): HTMLElement {
  return h("div", null, h("dt", null, term), h("dd", null, value));
}

/** A job submitted now: starts at once, after about this long, or nobody knows (no live runner). */
function waitText(wait: number | null | undefined): string {
  if (wait === null || wait === undefined) return "unknown (no live runner)";
  return wait === 0 ? "none (a slot is free)" : `about ${ms(wait * 1000)}`;
}

export function runnersCard(pool: string, view: PoolDetail | null): HTMLElement | null {
  if (!view?.runner_list) return null;
  const id = `runners-${pool}`;
  const live = view.runner_list.filter((r) => r.state === "live").length;
  const wait = view.estimated_wait_s;
  return h(
    "section",
    { class: "card", "aria-labelledby": id },
    h("h2", { id }, `Runners of ${pool}`),
    h(
      "dl",
      { class: "facts" },
      fact("Live runners", `${live} of ${view.runner_list.length} seen today`),
      fact("Queue depth", `${view.queued} queued, ${view.running} running`),
      fact("Wait estimate", waitText(wait)),
    ),
    table(
      view.runner_list.map((r) => ({ ...r })),
      [
        ["runner_id", "Runner"],
        ["version", "Version"],
        ["comfyui_version", "ComfyUI"],
        ["gpu", "GPU"],
        ["slots", "Slots"],
        ["state", "Health"],
        ["last_seen_at", "Last seen"],
      ],
      {
        comfyui_version: (r) => (r.comfyui_version as string | null) ?? "—",
        gpu: (r) => (r.gpu ? `${r.gpu}${r.vram_gb === null ? "" : ` (${r.vram_gb} GB)`}` : "—"),
        state: (r) => statusBadge(String(r.state)),
        last_seen_at: (r) => when(r.last_seen_at as string),
      },
      `Runners of ${pool}`,
      false,
    ),
  );
}
