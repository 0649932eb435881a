/** The runner's calls for model assets: GET /runner/v1/manifest and PUT /runner/v1/manifest/status. */
import { PoolManifest, type RunnerModelsReport } from "@comfy-edge/shared/contract/models";
import { parseJson, sendText } from "../http.ts";

export interface ModelsApi {
  manifest(signal?: AbortSignal): Promise<PoolManifest>;
  report(report: RunnerModelsReport, signal?: AbortSignal): Promise<void>;
}

export function gatewayModelsApi(baseUrl: string, token: string): ModelsApi {
  const base = `${baseUrl.replace(/\/+$/, "")}/runner/v1/manifest`;
  const authorization = `Bearer ${token}`;
  return {
    async manifest(signal) {
      const res = await sendText({ method: "GET", url: base, headers: { authorization }, signal, timeoutMs: 30_000 });
      if (res.status !== 200) throw new Error(`gateway GET /runner/v1/manifest answered ${res.status}`);
      return PoolManifest.parse(parseJson(res.text));
    },
    async report(report, signal) {
      const res = await sendText({
        method: "PUT",
        url: `${base}/status`,
        headers: { authorization, "content-type": "application/json" },
        body: JSON.stringify(report),
        signal,
        timeoutMs: 30_000,
      });
      if (res.status !== 204) throw new Error(`gateway PUT /runner/v1/manifest/status answered ${res.status}`);
    },
  };
}
