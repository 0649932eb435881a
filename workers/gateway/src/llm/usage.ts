/**
 * Per-key LLM usage: recorded in the key's Durable Object after the answer (through waitUntil, never on
 * the response path) and flushed to D1 `usage_daily` by the object's alarm.
 *
 * Requests of one key answered in the same isolate within BATCH_MS are summed and sent in one
 * `recordLlmUsage` call, so under load the key's object gets one extra call per window instead of one per
 * request. The request that opens a batch sends it and holds that call in its own waitUntil; the others
 * only add their numbers. No request ever waits on another request's promise (workerd cancels
 * continuations that cross into a request that has finished).
 */

import { sha256Hex } from "@comfy-edge/shared/crypto";
import { log } from "@comfy-edge/shared/log";
import type { Context } from "hono";
import type { LlmUsage } from "../keys/key-do.ts";
import { keyStub } from "../middleware/api-key-auth.ts";
import { bearerToken } from "../middleware/client-limit.ts";
import type { AppEnv } from "../types.ts";
import type { TokenUsage } from "./completion.ts";

export const BATCH_MS = 100;

export function upstreamUsage(usage: TokenUsage | null): LlmUsage {
  return {
    requests: 1,
    promptTokens: usage?.promptTokens ?? 0,
    completionTokens: usage?.completionTokens ?? 0,
    cacheHits: 0,
    tokensSaved: 0,
  };
}

export function cacheHitUsage(usage: TokenUsage | null): LlmUsage {
  return {
    requests: 1,
    promptTokens: 0,
    completionTokens: 0,
    cacheHits: 1,
    tokensSaved: (usage?.promptTokens ?? 0) + (usage?.completionTokens ?? 0),
  };
}

/** One per isolate (created by the chat route factory). */
export class UsageRecorder {
  private readonly batches = new Map<string, LlmUsage>();
  private readonly batchMs: number;

  constructor(batchMs: number = BATCH_MS) {
    this.batchMs = batchMs;
  }

  /**
   * Adds the usage to the key's open batch. Returns the send for the request that opened the batch (to
   * hold in its waitUntil); undefined for the others.
   */
  record(c: Context<AppEnv>, usage: LlmUsage): Promise<void> | undefined {
    const { keyId } = c.get("auth");
    const open = this.batches.get(keyId);
    if (open) {
      open.requests += usage.requests;
      open.promptTokens += usage.promptTokens;
      open.completionTokens += usage.completionTokens;
      open.cacheHits += usage.cacheHits;
      open.tokensSaved += usage.tokensSaved;
      return undefined;
    }
    const batch = { ...usage };
    this.batches.set(keyId, batch);
    return this.send(c, keyId, batch);
  }

  private async send(c: Context<AppEnv>, keyId: string, batch: LlmUsage): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.batchMs));
    this.batches.delete(keyId);
    const token = bearerToken(c);
    if (token === null || token === "malformed") return;
    try {
      await keyStub(c.env, await sha256Hex(token)).recordLlmUsage(batch);
    } catch (err) {
      log("error", { request_id: c.get("requestId") }, "llm usage not recorded", {
        key_id: keyId,
        usage: batch,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
    }
  }
}
