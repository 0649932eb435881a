import type { Context } from "hono";
import { ApiError } from "../../../shared/errors.ts";
import type { AppEnv } from "../types.ts";

const PERIOD_S = 60;

/**
 * Counts a request that failed authentication against the per-IP Rate Limiting binding, so key-guessing
 * floods get 429 without touching storage.
 */
export async function limitUnauthenticated(c: Context<AppEnv>): Promise<void> {
  const ip = c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? "unknown";
  const { success } = await c.env.UNAUTHENTICATED_LIMITER.limit({ key: ip });
  if (!success) {
    throw new ApiError(
      429,
      "rate_limited",
      "Too many requests with a missing or invalid credential from this address. Wait and retry with a valid API key.",
      {
        headers: { "retry-after": String(PERIOD_S) },
      },
    );
  }
}

/** Extracts the credential of an `Authorization: Bearer <token>` header (null when absent). */
export function bearerToken(c: Context<AppEnv>): string | null | "malformed" {
  const header = c.req.header("authorization");
  if (header === undefined || header.trim() === "") return null;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : "malformed";
}
