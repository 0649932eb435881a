/**
 * `GET /v1/models`: the models the configured upstreams serve, in OpenAI's list format. Exact names come
 * from the config; upstreams configured with wildcards are asked for their own list (`GET {base_url}/models`,
 * short timeout), filtered by their patterns. An upstream that does not answer is left out (and logged).
 */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { log } from "@comfy-edge/shared/log";
import { Hono } from "hono";
import { listImageModels } from "../images/model-store.ts";
import { candidatesFor, configReader, type Upstream, upstreamApiKey, upstreamFetcher } from "../llm/config.ts";
import { ModelList } from "../llm/schemas.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import { authedJsonErrors } from "../openapi/common.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";

const LIST_TIMEOUT_MS = 10_000;

async function upstreamModels(env: Env, upstream: Upstream, requestId: string): Promise<string[]> {
  const key = upstreamApiKey(env, upstream);
  const fetcher = upstreamFetcher(env, upstream);
  const fail = (reason: string): string[] => {
    log("warn", { request_id: requestId }, "llm model list failed", { upstream: upstream.name, reason });
    return [];
  };
  if (key === undefined || fetcher === undefined) return fail("missing secret or binding");
  const headers: Record<string, string> = { accept: "application/json", "x-request-id": requestId };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  try {
    const res = await fetcher(`${upstream.baseUrl}/models`, {
      headers,
      signal: AbortSignal.timeout(Math.min(LIST_TIMEOUT_MS, upstream.timeoutMs)),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return fail(`status ${res.status}`);
    }
    const body = (await res.json()) as { data?: unknown };
    if (!Array.isArray(body.data)) return fail("answer has no data array");
    return body.data
      .map((m) => (typeof m === "object" && m !== null ? (m as Record<string, unknown>).id : null))
      .filter((id): id is string => typeof id === "string" && upstream.serves(id));
  } catch (err) {
    return fail(err instanceof Error ? err.name : String(err));
  }
}

export function modelRoutes(): Hono<AppEnv> {
  const readConfig = configReader();
  const app = new Hono<AppEnv>();
  app.use("*", apiKeyAuth({ scope: "llm" }));
  app.get("/", async (c) => {
    const config = readConfig(c.env);
    const ids = new Set<string>();
    for (const u of config.upstreams) for (const m of u.exactModels) ids.add(m);
    const wild = config.upstreams.filter((u) => u.hasWildcard);
    const lists = await Promise.all(wild.map((u) => upstreamModels(c.env, u, c.get("requestId"))));
    for (const list of lists) for (const id of list) ids.add(id);
    const data = [...ids].sort().map((id) => ({
      id,
      object: "model" as const,
      created: 0,
      owned_by: candidatesFor(config, id)[0]?.name ?? "unknown",
    }));
    // Image models (docs/images.md): the tenant's templates served by the Images API.
    for (const m of await listImageModels(c.env.DB, c.get("auth").tenantId)) {
      data.push({
        id: m.images_model,
        object: "model",
        created: Math.floor(m.created_at / 1000),
        owned_by: `template:${m.name}`,
      });
    }
    return c.json({ object: "list", data });
  });
  return app;
}

export const modelDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/v1/models",
    summary: "List the models the LLM upstreams serve and the tenant's image models (templates)",
    tag: "LLM",
    security: "apiKey",
    scope: "llm",
    responses: {
      200: { description: "Models (OpenAI list format)", schema: ModelList },
      ...authedJsonErrors("llm"),
      503: { description: "The LLM upstreams are misconfigured (`llm_not_configured`)", schema: ErrorEnvelope },
    },
  },
];
