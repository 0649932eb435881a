/**
 * `POST /v1/chat/completions`: OpenAI-compatible proxy to the configured upstreams with a Workers KV
 * answer cache (docs/llm.md). Order: auth (one Durable Object call) -> config -> body (400) -> URL guard
 * on every image_url (422) -> route by model (404) -> cache (HIT) / single flight -> upstream (retry,
 * fallback) -> answer; cache write and usage go through waitUntil.
 */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { log } from "@comfy-edge/shared/log";
import { policyFor } from "@comfy-edge/shared/url-guard";
import type { Context } from "hono";
import { Hono } from "hono";
import { readJsonValue } from "../lib/body.ts";
import { type CachedAnswer, cacheDirectives, newEntry, putEntry, readEntry } from "../llm/cache.ts";
import { cacheKey } from "../llm/cache-key.ts";
import { isCompleteCompletion, replayAsSse, type TokenUsage } from "../llm/completion.ts";
import { candidatesFor, configReader, notConfigured, type Upstream } from "../llm/config.ts";
import { type Leader, SingleFlight } from "../llm/flight.ts";
import { AnswerMemo } from "../llm/memo.ts";
import { relayStream } from "../llm/relay.ts";
import { ChatRequest, guardImages, isDeterministic, parseChatRequest, upstreamBody } from "../llm/request.ts";
import { ChatCompletion } from "../llm/schemas.ts";
import { type Dispatched, dispatch } from "../llm/upstream.ts";
import { type JsonAnswer, readJsonAnswer } from "../llm/upstream-answer.ts";
import { cacheHitUsage, UsageRecorder, upstreamUsage } from "../llm/usage.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import { CACHE_REQUEST_HEADERS, CACHE_RESPONSE_HEADERS, CHAT_EXAMPLE, EVENT_STREAM } from "../openapi/params.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";
import { llmErrorDocs } from "./embeddings.ts";

type XCache = "HIT" | "MISS" | "BYPASS";

/** What one request needs on the way to an answer. */
interface Call {
  c: Context<AppEnv>;
  raw: Record<string, unknown>;
  request: ChatRequest;
  candidates: Upstream[];
  stream: boolean;
  includeUsage: boolean;
}

const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" };
const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store" };

function answerFromText(call: Call, text: string, xCache: XCache, ageS: number | null): Response {
  const headers: Record<string, string> = { "x-cache": xCache };
  if (ageS !== null) headers.age = String(ageS);
  if (!call.stream) return call.c.body(text, 200, { ...JSON_HEADERS, ...headers });
  const completion = JSON.parse(text) as Record<string, unknown>;
  return call.c.body(replayAsSse(completion, call.includeUsage), 200, { ...SSE_HEADERS, ...headers });
}

export function chatRoutes(): Hono<AppEnv> {
  const readConfig = configReader();
  /** Per isolate: identical cacheable requests in flight, hot cache entries, usage batches. */
  const flights = new SingleFlight();
  const memo = new AnswerMemo();
  const usage = new UsageRecorder();

  /**
   * Writes a whole answer to the isolate's copy at once (so a later request here never gets the answer it
   * replaces, e.g. after `Cache-Control: no-cache`) and to KV; resolves once KV has it.
   */
  function store(call: Call, key: string, text: string, tokens: TokenUsage | null, ttlS: number): Promise<void> {
    const entry = newEntry(text, tokens, ttlS);
    memo.set(key, entry);
    return putEntry(call.c.env.LLM_CACHE, key, entry, call.c.get("requestId"));
  }

  /** Calls the upstream; settles `leader` and writes the cache (`writeKey`) once the answer is whole. */
  async function fromUpstream(
    call: Call,
    xCache: XCache,
    leader: Leader | null,
    writeKey: string | null,
    ttlS: number,
  ): Promise<Response> {
    const { c } = call;
    const requestId = c.get("requestId");
    let d: Dispatched;
    try {
      d = await dispatch({
        env: c.env,
        candidates: call.candidates,
        body: upstreamBody(call.raw, call.stream),
        stream: call.stream,
        requestId,
      });
    } catch (err) {
      leader?.settle({ ok: false, error: err instanceof ApiError ? err : null });
      throw err;
    }
    const contentType = d.response.headers.get("content-type") ?? "";
    if (!call.stream || !contentType.includes("text/event-stream") || !d.response.body) {
      // Non-stream answer (or an upstream that ignored `stream: true`: replayed as a stream below).
      let answer: JsonAnswer;
      try {
        answer = await readJsonAnswer(d);
      } catch (err) {
        leader?.settle({ ok: false, error: err instanceof ApiError ? err : null });
        throw err;
      }
      const write =
        answer.complete && writeKey !== null ? store(call, writeKey, answer.text, answer.usage, ttlS) : undefined;
      if (answer.complete) leader?.settle({ ok: true, text: answer.text, usage: answer.usage }, write);
      else leader?.settle({ ok: false, error: null });
      c.executionCtx.waitUntil(Promise.all([write, usage.record(c, upstreamUsage(answer.usage))]));
      if (!call.stream) return c.body(answer.text, 200, { ...JSON_HEADERS, "x-cache": xCache });
      return c.body(replayAsSse(answer.completion, call.includeUsage), 200, { ...SSE_HEADERS, "x-cache": xCache });
    }

    d.deadline.clear();
    const relay = relayStream(d.response.body, {
      upstream: d.upstream.name,
      requestId,
      includeUsage: call.includeUsage,
      capture: leader !== null || writeKey !== null,
      idleTimeoutMs: d.upstream.timeoutMs,
      secrets: d.secrets,
    });
    c.executionCtx.waitUntil(
      relay.done.then(async (outcome) => {
        const whole = outcome.complete && outcome.completion !== null && isCompleteCompletion(outcome.completion);
        const text = whole ? JSON.stringify(outcome.completion) : null;
        const write = text !== null && writeKey !== null ? store(call, writeKey, text, outcome.usage, ttlS) : undefined;
        if (text !== null) leader?.settle({ ok: true, text, usage: outcome.usage }, write);
        else leader?.settle({ ok: false, error: outcome.canceled ? null : outcome.failure });
        await Promise.all([write, usage.record(c, upstreamUsage(outcome.usage))]);
      }),
    );
    return c.body(relay.stream, 200, { ...SSE_HEADERS, "x-cache": xCache });
  }

  function hit(call: Call, entry: CachedAnswer): Response {
    const tokens = { promptTokens: entry.meta.p, completionTokens: entry.meta.c };
    const sent = usage.record(call.c, cacheHitUsage(tokens));
    if (sent) call.c.executionCtx.waitUntil(sent);
    const ageS = entry.meta.t > 0 ? Math.max(0, Math.floor((Date.now() - entry.meta.t) / 1000)) : null;
    return answerFromText(call, entry.text, "HIT", ageS);
  }

  /**
   * The isolate's copy, an identical request in flight, or KV; else the upstream as the flight's leader.
   */
  async function cached(call: Call, key: string, write: boolean, ttlS: number): Promise<Response> {
    const { c } = call;
    const hot = memo.get(key);
    if (hot !== null) return hit(call, hot);
    for (;;) {
      const joined = flights.join(key);
      if (joined === undefined) break;
      const result = await joined;
      if (result.ok) {
        const sent = usage.record(c, cacheHitUsage(result.usage));
        if (sent) c.executionCtx.waitUntil(sent);
        return answerFromText(call, result.text, "HIT", null);
      }
      if (result.error) throw result.error;
      // The leader's client went away: try again (perhaps as the next leader).
    }
    const leader = flights.lead(key);
    let entry: Awaited<ReturnType<typeof readEntry>>;
    try {
      entry = await readEntry(c.env.LLM_CACHE, key);
    } catch (err) {
      // KV unavailable: serve from the upstream rather than fail the request.
      log("error", { request_id: c.get("requestId") }, "llm cache read failed", {
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
      entry = null;
    }
    if (entry !== null) {
      memo.set(key, entry);
      leader.settle({
        ok: true,
        text: entry.text,
        usage: { promptTokens: entry.meta.p, completionTokens: entry.meta.c },
      });
      return hit(call, entry);
    }
    try {
      return await fromUpstream(call, "MISS", leader, write ? key : null, ttlS);
    } catch (err) {
      leader.settle({ ok: false, error: err instanceof ApiError ? err : null });
      throw err;
    }
  }

  const app = new Hono<AppEnv>();
  app.use("*", apiKeyAuth({ scope: "llm" }));
  app.post("/", async (c) => {
    const config = readConfig(c.env);
    const raw = await readJsonValue(c);
    const request = parseChatRequest(raw);
    const auth = c.get("auth");
    const forward = guardImages(request, raw as Record<string, unknown>, () => policyFor("image", c.env, auth.tenant));
    const directives = cacheDirectives(c.req.header("cache-control"), c.req.header("x-cache-ttl"), config.cacheTtlS);
    if (config.upstreams.length === 0) {
      throw notConfigured("No LLM upstream is configured on this deployment (LLM_UPSTREAMS or LLM_UPSTREAM_URL).");
    }
    const candidates = candidatesFor(config, request.model);
    if (candidates.length === 0) {
      throw new ApiError(
        404,
        "model_not_found",
        `No upstream serves the model '${request.model}'. GET /v1/models lists the models.`,
        { param: "model" },
      );
    }
    const call: Call = {
      c,
      raw: forward,
      request,
      candidates,
      stream: request.stream === true,
      includeUsage: request.stream_options?.include_usage === true,
    };
    const cacheable = auth.tenant.cache_all || isDeterministic(request);
    if (!cacheable || (!directives.read && !directives.write)) return fromUpstream(call, "BYPASS", null, null, 0);
    const key = await cacheKey({
      body: call.raw,
      route: candidates.map((u) => u.name).join(","),
      tenantId: config.cacheScope === "global" ? null : auth.tenantId,
    });
    if (!directives.read) return fromUpstream(call, "BYPASS", null, key, directives.ttlS);
    return cached(call, key, directives.write, directives.ttlS);
  });
  return app;
}

export const chatDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/v1/chat/completions",
    summary: "Create a chat completion (OpenAI-compatible, cached)",
    description:
      "Proxies to the upstream serving `model` (retries, fallback by priority). `stream: true` answers " +
      "with server-sent events. Every `image_url` passes the URL guard first. Deterministic requests " +
      "(temperature 0 or a seed; every request when the tenant has cache_all) are cached in KV: response " +
      "header `x-cache: HIT|MISS|BYPASS`; request `Cache-Control: no-cache` skips the read, `no-store` the " +
      "write; `x-cache-ttl: <seconds>` (60 to 2592000) sets the entry's lifetime. An upstream's refusal of " +
      "the request itself (400, 413, 422) is passed through with its status and `upstream_invalid_request`. " +
      "Every upstream error (`upstream_*`, `llm_not_configured`) carries `x-should-retry: false`: the " +
      "gateway has retried already. Upstream messages are scrubbed of credentials, URLs, paths and tracebacks.",
    tag: "LLM",
    security: "apiKey",
    scope: "llm",
    body: ChatRequest,
    bodyExample: CHAT_EXAMPLE,
    headers: CACHE_REQUEST_HEADERS,
    responses: {
      200: {
        description: "The answer (JSON, or text/event-stream when `stream` is true)",
        schema: ChatCompletion,
        alternatives: { "text/event-stream": EVENT_STREAM },
        headers: CACHE_RESPONSE_HEADERS,
      },
      ...llmErrorDocs,
      422: {
        description: "An image URL was refused (`unsafe_url`, `url_not_allowed`), or the upstream refused the request",
        schema: ErrorEnvelope,
      },
    },
  },
];
