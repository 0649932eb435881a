/**
 * Per-key LLM usage: recorded in the key's Durable Object after the answer (through waitUntil, never on
 * the response path) and flushed to D1 `usage_daily` by the object's alarm.
 */
import type { Context } from "hono";
import { sha256Hex } from "../../../shared/crypto.ts";
import type { LlmUsage } from "../keys/key-do.ts";
import { keyStub } from "../middleware/api-key-auth.ts";
import { bearerToken } from "../middleware/client-limit.ts";
import type { AppEnv } from "../types.ts";
import type { TokenUsage } from "./completion.ts";

export function upstreamUsage(usage: TokenUsage | null): LlmUsage {
  return {
    promptTokens: usage?.promptTokens ?? 0,
    completionTokens: usage?.completionTokens ?? 0,
    cacheHit: false,
    tokensSaved: 0,
  };
}

export function cacheHitUsage(usage: TokenUsage | null): LlmUsage {
  return {
    promptTokens: 0,
    completionTokens: 0,
    cacheHit: true,
    tokensSaved: (usage?.promptTokens ?? 0) + (usage?.completionTokens ?? 0),
  };
}

/** Adds the usage to the caller's key Durable Object (the same object auth used). */
export async function recordUsage(c: Context<AppEnv>, usage: LlmUsage): Promise<void> {
  const token = bearerToken(c);
  if (token === null || token === "malformed") return;
  try {
    await keyStub(c.env, await sha256Hex(token)).recordLlmUsage(usage);
  } catch (err) {
    console.error(
      JSON.stringify({
        level: "error",
        msg: "llm usage not recorded",
        request_id: c.get("requestId"),
        key_id: c.get("auth").keyId,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      }),
    );
  }
}
