/**
 * Non-stream LLM answers (embeddings, completions) through the same machinery as chat: upstream with
 * retries and fallback (dispatch), the answer checked before it is served, the KV answer cache with the
 * isolate copy and single flight, and usage recorded per key through waitUntil. One per route factory.
 */

import { ApiError } from "@comfy-edge/shared/errors";
import { log } from "@comfy-edge/shared/log";
import type { Context } from "hono";
import type { AppEnv } from "../types.ts";
import { type CachedAnswer, newEntry, putEntry, readEntry } from "./cache.ts";
import type { TokenUsage } from "./completion.ts";
import type { Upstream } from "./config.ts";
import { type Leader, SingleFlight } from "./flight.ts";
import { AnswerMemo } from "./memo.ts";
import { dispatch } from "./upstream.ts";
import { type AnswerShape, readJsonAnswer } from "./upstream-answer.ts";
import { cacheHitUsage, UsageRecorder, upstreamUsage } from "./usage.ts";

export type XCache = "HIT" | "MISS" | "BYPASS";

export interface JsonCall {
  c: Context<AppEnv>;
  candidates: Upstream[];
  /** Under the upstream's base URL, e.g. `/embeddings`. */
  path: string;
  /** The body to send upstream. */
  body: string;
  shape: AnswerShape;
}

const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" };

export class JsonProxy {
  private readonly flights = new SingleFlight();
  private readonly memo = new AnswerMemo();
  readonly usage = new UsageRecorder();

  private answer(call: JsonCall, text: string, xCache: XCache, ageS: number | null = null): Response {
    const headers: Record<string, string> = { ...JSON_HEADERS, "x-cache": xCache };
    if (ageS !== null) headers.age = String(ageS);
    return call.c.body(text, 200, headers);
  }

  private hold(call: JsonCall, work: Promise<unknown> | undefined): void {
    if (work) call.c.executionCtx.waitUntil(work);
  }

  private hit(call: JsonCall, entry: CachedAnswer): Response {
    this.hold(
      call,
      this.usage.record(call.c, cacheHitUsage({ promptTokens: entry.meta.p, completionTokens: entry.meta.c })),
    );
    const ageS = entry.meta.t > 0 ? Math.max(0, Math.floor((Date.now() - entry.meta.t) / 1000)) : null;
    return this.answer(call, entry.text, "HIT", ageS);
  }

  /** The upstream's answer; with `writeKey`, a whole answer is stored (isolate copy at once, KV after). */
  async fromUpstream(
    call: JsonCall,
    xCache: XCache,
    leader: Leader | null = null,
    writeKey: string | null = null,
    ttlS = 0,
  ): Promise<Response> {
    const { c } = call;
    try {
      const d = await dispatch({
        env: c.env,
        candidates: call.candidates,
        path: call.path,
        body: call.body,
        stream: false,
        requestId: c.get("requestId"),
      });
      const answer = await readJsonAnswer(d, call.shape);
      let write: Promise<void> | undefined;
      if (answer.complete && writeKey !== null) write = this.store(call, writeKey, answer.text, answer.usage, ttlS);
      if (answer.complete) leader?.settle({ ok: true, text: answer.text, usage: answer.usage }, write);
      else leader?.settle({ ok: false, error: null });
      c.executionCtx.waitUntil(Promise.all([write, this.usage.record(c, upstreamUsage(answer.usage))]));
      return this.answer(call, answer.text, xCache);
    } catch (err) {
      leader?.settle({ ok: false, error: err instanceof ApiError ? err : null });
      throw err;
    }
  }

  private store(call: JsonCall, key: string, text: string, usage: TokenUsage | null, ttlS: number): Promise<void> {
    const entry = newEntry(text, usage, ttlS);
    this.memo.set(key, entry);
    return putEntry(call.c.env.LLM_CACHE, key, entry, call.c.get("requestId"));
  }

  /** The isolate's copy, an identical request in flight, or KV; else the upstream as the flight's leader. */
  async cached(call: JsonCall, key: string, write: boolean, ttlS: number): Promise<Response> {
    const { c } = call;
    const hot = this.memo.get(key);
    if (hot !== null) return this.hit(call, hot);
    for (;;) {
      const joined = this.flights.join(key);
      if (joined === undefined) break;
      const result = await joined;
      if (result.ok) {
        this.hold(call, this.usage.record(c, cacheHitUsage(result.usage)));
        return this.answer(call, result.text, "HIT");
      }
      if (result.error) throw result.error;
    }
    const leader = this.flights.lead(key);
    let entry: CachedAnswer | null;
    try {
      entry = await readEntry(c.env.LLM_CACHE, key);
    } catch (err) {
      log("error", { request_id: c.get("requestId") }, "llm cache read failed", {
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
      entry = null;
    }
    if (entry !== null) {
      this.memo.set(key, entry);
      leader.settle({
        ok: true,
        text: entry.text,
        usage: { promptTokens: entry.meta.p, completionTokens: entry.meta.c },
      });
      return this.hit(call, entry);
    }
    return this.fromUpstream(call, "MISS", leader, write ? key : null, ttlS);
  }
}
