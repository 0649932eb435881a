/** Fixed answers of ComfyUI 0.33 as recorded from the harness (fixtures/server_info_v0.33.json): /system_stats
 * and the /models folder list. */
import { readFileSync } from "node:fs";

const RECORDED = JSON.parse(readFileSync(new URL("./fixtures/server_info_v0.33.json", import.meta.url), "utf8")) as {
  system_stats: Record<string, unknown>;
  models: string[];
};

export const SYSTEM_STATS: Readonly<Record<string, unknown>> = RECORDED.system_stats;
export const MODEL_FOLDERS: readonly string[] = RECORDED.models;
