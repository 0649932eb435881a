/**
 * Static checks of model inputs given as URLs (docs/models.md): allowed only in a pool whose manifest sets
 * `url_models`, only from the tenant's model hosts, and only URLs the URL guard accepts (https, public host,
 * no credentials). The runner downloads the file through its guarded fetcher under the pool's size cap.
 */
import type { Workflow } from "@comfy-edge/shared/contract/jobs";
import { ApiError } from "@comfy-edge/shared/errors";
import { urlModelInputs } from "@comfy-edge/shared/models/url-inputs";
import { assertSafeUrl, normaliseAllowlistEntry, policyFor } from "@comfy-edge/shared/url-guard";
import { getManifest, getTenantModelHosts } from "./store.ts";
import { checkUrlModelSizes } from "./url-size.ts";

export async function checkUrlModels(env: Env, pool: string, tenantId: string, workflow: Workflow): Promise<void> {
  const found = urlModelInputs(workflow);
  const first = found[0];
  if (first === undefined) return;
  const param = (i: (typeof found)[number]) => `workflow.${i.nodeId}.inputs.${i.input}`;
  const manifest = await getManifest(env.DB, pool);
  if (manifest?.url_models == null) {
    throw new ApiError(
      422,
      "url_models_not_allowed",
      `Pool '${pool}' does not accept model files by URL (node ${first.nodeId} input '${first.input}'). Name a file the pool has (GET /v1/pools/${pool}/capabilities), or ask the operator to set url_models in the pool's manifest.`,
      { param: param(first) },
    );
  }
  const hosts = await getTenantModelHosts(env.DB, tenantId);
  if (hosts.length === 0) {
    throw new ApiError(
      422,
      "url_models_not_allowed",
      `This tenant has no model hosts, so model inputs cannot be URLs (node ${first.nodeId} input '${first.input}'). The operator sets them with PUT /admin/v1/tenants/:id/model-hosts.`,
      { param: param(first) },
    );
  }
  const policy = {
    ...policyFor("webhook", env, null),
    hostAllowlist: hosts.map(normaliseAllowlistEntry),
    allowlistName: "this tenant's model hosts",
  };
  for (const input of found) assertSafeUrl(input.url, policy, param(input));
  // Redirect hops of the size check go to any public host, as the runner's download does (docs/models.md).
  await checkUrlModelSizes(found, manifest.url_models.max_bytes, policyFor("webhook", env, null));
}
