/**
 * Model files a workflow names by URL, as dispatch preferences (docs/models.md): the pool's matcher gives
 * the job to a waiting runner that already holds them (its report lists `url-<16 hex of SHA-256(url)>-...`).
 */
import type { DispatchNeeds, Workflow } from "@comfy-edge/shared/contract";
import { sha256Hex } from "@comfy-edge/shared/crypto";
import { urlModelInputs } from "@comfy-edge/shared/models/url-inputs";

/** `needs` with the workflow's URL models added (null stays null: without reports nothing is matched). */
export async function withUrlModels(needs: DispatchNeeds | null, workflow: Workflow): Promise<DispatchNeeds | null> {
  if (!needs) return null;
  const found = urlModelInputs(workflow);
  if (found.length === 0) return needs;
  const url_models = await Promise.all(
    found.map(async (i) => ({ folder: i.folder, url_sha256: await sha256Hex(i.url) })),
  );
  return { ...needs, url_models };
}
