/**
 * Model asset commands of the CLI (admin token; docs/models.md):
 *   models show --pool <pool>                  each runner's model files, download and warmup state
 *   models set --pool <pool> -f <manifest.json> set the pool's manifest ({models, warmup?, url_models?})
 *   models resync --pool <pool>                every runner re-checks its files and warms up again
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { PoolManifest, PoolModelsView } from "@comfy-edge/shared/contract/models";
import { AdminClient } from "./admin-client.ts";
import { adminConfig, UsageError } from "./config.ts";

type Out = (line: string) => void;

export const MODELS_USAGE = `Model assets (admin; docs/models.md):
  models show --pool <pool>                   each runner's model files, download and warmup state
  models set --pool <pool> -f <manifest.json>  set the pool's manifest ({"models": [...], "warmup"?, "url_models"?})
  models resync --pool <pool>                 every runner re-checks its files and runs the warmup again`;

const OPTIONS = {
  pool: { type: "string" },
  file: { type: "string", short: "f" },
  json: { type: "boolean" },
} as const;

function mb(bytes: number | null): string {
  return bytes === null ? "?" : `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** Lines for `models show`: one per runner, then one per file. */
export function formatModels(view: PoolModelsView): string[] {
  const lines = [`pool ${view.pool}: manifest ${view.manifest_digest?.slice(0, 12) ?? "none"}`];
  if (view.runners.length === 0) lines.push("  no runner has reported yet");
  for (const r of view.runners) {
    const synced = r.manifest_digest === view.manifest_digest ? "" : " (older manifest)";
    const warm =
      r.warmup.state === "passed" ? `warmup passed in ${r.warmup.seconds?.toFixed(1)} s` : `warmup ${r.warmup.state}`;
    lines.push(`  ${r.runner_id}: ${r.state}${synced}, ${warm}, reported ${r.reported_at}`);
    if (r.warmup.error) lines.push(`    warmup error: ${r.warmup.error}`);
    for (const f of r.files) {
      const progress = f.state === "downloading" ? ` ${mb(f.bytes)} of ${mb(f.size)}` : ` ${mb(f.bytes)}`;
      lines.push(`    ${f.folder}/${f.filename}: ${f.state}${progress}${f.error ? ` (${f.error})` : ""}`);
    }
  }
  return lines;
}

/** Runs a `models` command; null when argv is not one. */
export async function runModelsCommand(
  argv: string[],
  io: { out: Out; env: NodeJS.ProcessEnv; cwd: string },
): Promise<number | null> {
  if (argv[0] !== "models") return null;
  const { values, positionals } = parseArgs({ args: argv.slice(1), options: OPTIONS, allowPositionals: true });
  const [sub] = positionals;
  const pool = values.pool;
  if (!pool) throw new UsageError(`models ${sub ?? ""} needs --pool <pool>`.replace("  ", " "));
  const client = new AdminClient(adminConfig(io.env, io.cwd));
  const base = `/admin/v1/pools/${encodeURIComponent(pool)}`;
  const print = (value: unknown, lines: () => string[]) => {
    if (values.json) io.out(JSON.stringify(value, null, 2));
    else for (const line of lines()) io.out(line);
  };
  if (sub === "show") {
    const view = PoolModelsView.parse(await client.request("GET", `${base}/models`));
    print(view, () => formatModels(view));
  } else if (sub === "set") {
    if (!values.file) throw new UsageError("models set needs -f <manifest.json>");
    let body: unknown;
    try {
      body = JSON.parse(await readFile(values.file, "utf8"));
    } catch (err) {
      throw new UsageError(`cannot read ${values.file} as JSON: ${(err as Error).message}`);
    }
    const manifest = PoolManifest.parse(await client.request("PUT", `${base}/manifest`, body));
    print(manifest, () => [
      `pool ${pool}: ${manifest.models.length} model(s), manifest ${manifest.digest.slice(0, 12)}`,
    ]);
  } else if (sub === "resync") {
    const manifest = PoolManifest.parse(await client.request("POST", `${base}/manifest/resync`));
    print(manifest, () => [`pool ${pool}: re-sync requested (manifest ${manifest.digest.slice(0, 12)})`]);
  } else {
    throw new UsageError(`unknown command: models ${sub ?? ""}`.trim());
  }
  return 0;
}
