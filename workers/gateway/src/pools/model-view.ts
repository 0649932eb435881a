/**
 * The model state a tenant sees in GET /v1/pools/:name (docs/models.md): the pool's manifest files with how
 * many runners hold, fetch or failed each, and per runner (unnamed: runner ids are operators' labels) its
 * state and file counts. Names and counts only: no host paths, no error texts, no URLs.
 */
import type {
  ModelStateCounts,
  PoolManifest,
  PoolModelState,
  RunnerModelsReport,
} from "@comfy-edge/shared/contract/models";

const zero = (): ModelStateCounts => ({ present: 0, pending: 0, downloading: 0, failed: 0 });

export function modelState(
  manifest: PoolManifest | null,
  reports: Array<RunnerModelsReport & { reported_at: string }>,
): PoolModelState {
  const key = (folder: string, filename: string) => `${folder}/${filename}`;
  const files = new Map(
    (manifest?.models ?? []).map((m) => [
      key(m.folder, m.filename),
      { folder: m.folder, filename: m.filename, ...zero() },
    ]),
  );
  const runners = [...reports]
    .sort((a, b) => a.reported_at.localeCompare(b.reported_at))
    .map((r) => {
      const counts = zero();
      let url = 0;
      for (const f of r.files) {
        if (f.source === "url") {
          if (f.state === "present") url += 1;
          continue;
        }
        counts[f.state] += 1;
        const entry = files.get(key(f.folder, f.filename));
        if (entry) entry[f.state] += 1;
      }
      return {
        state: r.state,
        current: manifest !== null && r.manifest_digest === manifest.digest,
        files: counts,
        url_models: url,
        reported_at: r.reported_at,
      };
    });
  return { manifest_digest: manifest?.digest ?? null, files: [...files.values()], runners };
}
