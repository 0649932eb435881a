/**
 * `POST /v1/embeddings`: OpenAI-compatible proxy to the upstream serving `model`, with the same routing,
 * retries, fallback, error handling and usage as chat (docs/llm.md). Embeddings are deterministic, so
 * every answer is cached in KV (per tenant by default): `x-cache: HIT|MISS|BYPASS`, `Cache-Control:
 * no-cache` / `no-store` and `x-cache-ttl` as for chat.
 */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { Hono } from "hono";
import { configReader } from "../llm/config.ts";
import { type JsonCall, JsonProxy } from "../llm/json-proxy.ts";
import { answerJson, readLlmRequest } from "../llm/json-route.ts";
import { Embedding, EmbeddingRequest } from "../llm/more-requests.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import { authedJsonErrors } from "../openapi/common.ts";
import { CACHE_REQUEST_HEADERS, CACHE_RESPONSE_HEADERS } from "../openapi/params.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";

export function embeddingRoutes(): Hono<AppEnv> {
  const readConfig = configReader();
  const proxy = new JsonProxy();
  const app = new Hono<AppEnv>();
  app.use("*", apiKeyAuth({ scope: "llm" }));
  app.post("/", async (c) => {
    const config = readConfig(c.env);
    const req = await readLlmRequest(c, config, EmbeddingRequest);
    const call: JsonCall = {
      c,
      candidates: req.candidates,
      path: "/embeddings",
      body: JSON.stringify(req.raw),
      shape: "data",
    };
    return answerJson(proxy, call, "embeddings", config, req);
  });
  return app;
}

/** Error answers shared by the LLM routes' docs. */
export const llmErrorDocs = {
  400: {
    description: "Invalid request (`param` names the field), or the upstream refused it (`upstream_invalid_request`)",
    schema: ErrorEnvelope,
  },
  ...authedJsonErrors("llm", {
    404: "No upstream serves the model (`model_not_found`)",
    429: "Rate limited, or the upstreams are (`upstream_rate_limited`)",
  }),
  413: { description: "Body too large, or the upstream said so (`upstream_invalid_request`)", schema: ErrorEnvelope },
  415: { description: "Body is not JSON", schema: ErrorEnvelope },
  422: { description: "The upstream refused the request (`upstream_invalid_request`)", schema: ErrorEnvelope },
  502: { description: "The upstream failed (`upstream_error`, with its status)", schema: ErrorEnvelope },
  503: { description: "No usable upstream is configured (`llm_not_configured`)", schema: ErrorEnvelope },
  504: { description: "The upstream did not answer in time (`upstream_timeout`)", schema: ErrorEnvelope },
};

export const embeddingDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/v1/embeddings",
    summary: "Create embeddings (OpenAI-compatible, cached)",
    description:
      "Proxies to the upstream serving `model` (retries, fallback by priority), like chat completions. " +
      "Embeddings are deterministic, so every answer is cached in KV: response header `x-cache: " +
      "HIT|MISS|BYPASS`; request `Cache-Control: no-cache` skips the read, `no-store` the write; " +
      "`x-cache-ttl: <seconds>` (60 to 2592000) sets the entry's lifetime. Upstream errors carry " +
      "`x-should-retry: false`.",
    tag: "LLM",
    security: "apiKey",
    scope: "llm",
    body: EmbeddingRequest,
    headers: CACHE_REQUEST_HEADERS,
    responses: {
      200: { description: "The vectors", schema: Embedding, headers: CACHE_RESPONSE_HEADERS },
      ...llmErrorDocs,
    },
  },
];
