/**
 * `POST /v1/completions` (legacy text completions, what vLLM, Ollama and LM Studio also serve): the same
 * routing, retries, fallback, error handling and usage as chat (docs/llm.md). `stream: true` is relayed
 * event by event; non-stream deterministic answers (temperature 0 or a seed; every answer for tenants
 * with cache_all) are cached in KV like chat answers. Streamed completions are not cached (`BYPASS`).
 */
import { Hono } from "hono";
import { configReader } from "../llm/config.ts";
import { type JsonCall, JsonProxy } from "../llm/json-proxy.ts";
import { answerJson, readLlmRequest } from "../llm/json-route.ts";
import { CompletionRequest, TextCompletion } from "../llm/more-requests.ts";
import { relayStream } from "../llm/relay.ts";
import { upstreamBody } from "../llm/request.ts";
import { replayTextAsSse } from "../llm/text-completion.ts";
import { dispatch } from "../llm/upstream.ts";
import { readJsonAnswer } from "../llm/upstream-answer.ts";
import { upstreamUsage } from "../llm/usage.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import { CACHE_REQUEST_HEADERS, CACHE_RESPONSE_HEADERS, EVENT_STREAM } from "../openapi/params.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";
import { llmErrorDocs } from "./embeddings.ts";

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-store",
  "x-cache": "BYPASS",
};

export function completionRoutes(): Hono<AppEnv> {
  const readConfig = configReader();
  const proxy = new JsonProxy();
  const app = new Hono<AppEnv>();
  app.use("*", apiKeyAuth({ scope: "llm" }));
  app.post("/", async (c) => {
    const config = readConfig(c.env);
    const req = await readLlmRequest(c, config, CompletionRequest);
    const { raw, request, candidates } = req;
    const requestId = c.get("requestId");

    if (request.stream === true) {
      const includeUsage = request.stream_options?.include_usage === true;
      const d = await dispatch({
        env: c.env,
        candidates,
        path: "/completions",
        body: upstreamBody(raw, true),
        stream: true,
        requestId,
      });
      const contentType = d.response.headers.get("content-type") ?? "";
      if (!contentType.includes("text/event-stream") || !d.response.body) {
        const answer = await readJsonAnswer(d);
        c.executionCtx.waitUntil(proxy.usage.record(c, upstreamUsage(answer.usage)) ?? Promise.resolve());
        return c.body(replayTextAsSse(answer.completion, includeUsage), 200, SSE_HEADERS);
      }
      d.deadline.clear();
      const relay = relayStream(d.response.body, {
        upstream: d.upstream.name,
        requestId,
        includeUsage,
        capture: false,
        idleTimeoutMs: d.upstream.timeoutMs,
        secrets: d.secrets,
      });
      c.executionCtx.waitUntil(relay.done.then((outcome) => proxy.usage.record(c, upstreamUsage(outcome.usage))));
      return c.body(relay.stream, 200, SSE_HEADERS);
    }

    const call: JsonCall = { c, candidates, path: "/completions", body: JSON.stringify(raw), shape: "choices" };
    const deterministic = request.temperature === 0 || (request.seed !== undefined && request.seed !== null);
    const cacheable = c.get("auth").tenant.cache_all || deterministic;
    return answerJson(proxy, call, "completions", config, req, cacheable);
  });
  return app;
}

export const completionDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/v1/completions",
    summary: "Create a text completion (OpenAI-compatible legacy completions)",
    description:
      "Proxies to the upstream serving `model` (retries, fallback by priority), like chat completions. " +
      "`stream: true` answers with server-sent events (not cached). Deterministic non-stream requests " +
      "(temperature 0 or a seed; every request when the tenant has cache_all) are cached in KV: " +
      "`x-cache: HIT|MISS|BYPASS`, `Cache-Control: no-cache` / `no-store`, `x-cache-ttl`. Upstream errors " +
      "carry `x-should-retry: false`.",
    tag: "LLM",
    security: "apiKey",
    scope: "llm",
    body: CompletionRequest,
    headers: CACHE_REQUEST_HEADERS,
    responses: {
      200: {
        description: "The answer (JSON, or text/event-stream when `stream` is true)",
        schema: TextCompletion,
        alternatives: { "text/event-stream": EVENT_STREAM },
        headers: CACHE_RESPONSE_HEADERS,
      },
      ...llmErrorDocs,
    },
  },
];
