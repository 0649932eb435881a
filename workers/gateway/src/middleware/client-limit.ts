import { ApiError } from "@comfy-edge/shared/errors";
import type { Context } from "hono";
import ipaddr from "ipaddr.js";
import type { AppEnv } from "../types.ts";

const PERIOD_S = 60;

/**
 * The key a client address is limited under: an IPv4 address as is; an IPv6 address by its /64 (one
 * host or subscriber gets a whole /64, so keying on the full address would give each guess a fresh
 * budget); an IPv4-mapped IPv6 address as its IPv4. Anything unparsable is keyed on its own text.
 */
export function clientKey(address: string): string {
  const text = address.trim();
  if (!ipaddr.isValid(text)) return text.slice(0, 64) || "unknown";
  const ip = ipaddr.parse(text);
  if (ip.kind() === "ipv4") return ip.toString();
  const v6 = ip as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  const prefix = new ipaddr.IPv6([...v6.parts.slice(0, 4), 0, 0, 0, 0]);
  return `${prefix.toString()}/64`;
}

/**
 * Counts a request that failed authentication against the per-client Rate Limiting binding (keyed by
 * `clientKey`), so key-guessing floods get 429 without touching storage.
 */
export async function limitUnauthenticated(c: Context<AppEnv>): Promise<void> {
  const ip = c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? "unknown";
  const { success } = await c.env.UNAUTHENTICATED_LIMITER.limit({ key: clientKey(ip) });
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
