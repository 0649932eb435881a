/**
 * What the JSON LLM routes (embeddings, completions) share around the proxy: reading the request
 * (body, typed view, cache directives, the upstreams serving its model) and answering it through the
 * KV cache or straight from upstream.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { readJsonValue } from "../lib/body.ts";
import type { AppEnv } from "../types.ts";
import { type CacheDirectives, cacheDirectives } from "./cache.ts";
import { cacheKey } from "./cache-key.ts";
import { type LlmConfig, requireCandidates, type Upstream } from "./config.ts";
import type { JsonCall, JsonProxy } from "./json-proxy.ts";
import { parseLlmRequest } from "./request.ts";

export interface LlmRequest<T> {
  /** The body as sent (a JSON object once `request` parsed). */
  raw: Record<string, unknown>;
  request: T;
  directives: CacheDirectives;
  candidates: Upstream[];
}

/** Reads and checks one request: 400 on a bad body, 404/503 when no upstream serves its model. */
export async function readLlmRequest<S extends z.ZodType<{ model: string }>>(
  c: Context<AppEnv>,
  config: LlmConfig,
  schema: S,
): Promise<LlmRequest<z.output<S>>> {
  const raw = await readJsonValue(c);
  const request = parseLlmRequest(schema, raw);
  const directives = cacheDirectives(c.req.header("cache-control"), c.req.header("x-cache-ttl"), config.cacheTtlS);
  return {
    raw: raw as Record<string, unknown>, // parseLlmRequest refused anything but an object
    request,
    directives,
    candidates: requireCandidates(config, request.model),
  };
}

/** Answers from the cache when the request may use it (keyed per route, upstreams and tenant scope), else upstream. */
export async function answerJson(
  proxy: JsonProxy,
  call: JsonCall,
  route: string,
  config: LlmConfig,
  req: LlmRequest<unknown>,
  cacheable = true,
): Promise<Response> {
  const { directives } = req;
  if (!cacheable || (!directives.read && !directives.write)) return proxy.fromUpstream(call, "BYPASS");
  const key = await cacheKey({
    body: req.raw,
    route: `${route}:${req.candidates.map((u) => u.name).join(",")}`,
    tenantId: config.cacheScope === "global" ? null : call.c.get("auth").tenantId,
  });
  if (!directives.read) return proxy.fromUpstream(call, "BYPASS", null, key, directives.ttlS);
  return proxy.cached(call, key, directives.write, directives.ttlS);
}
