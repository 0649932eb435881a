/**
 * The answer-cache key: SHA-256 over the canonical request body (object keys sorted at every level)
 * minus the fields that cannot change the answer, plus the upstream route and the cache scope.
 * Everything else, including pass-through fields such as `response_format` or `guided_json`, is part
 * of the key. KV key layout: workers/gateway/STORAGE.md.
 */
import { toHex } from "@comfy-edge/shared/crypto";

/** Top-level fields that never change the answer. */
export const KEY_DENYLIST: ReadonlySet<string> = new Set(["stream", "stream_options", "user"]);

/** Bumped when the stored entry format or the key derivation changes. */
export const CACHE_VERSION = "v1";

function canonical(value: unknown, out: string[]): void {
  if (value === null || typeof value !== "object") {
    // JSON.stringify gives the canonical text of strings, finite numbers, booleans and null.
    out.push(JSON.stringify(value) ?? "null");
    return;
  }
  if (Array.isArray(value)) {
    out.push("[");
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(",");
      canonical(value[i], out);
    }
    out.push("]");
    return;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  out.push("{");
  let first = true;
  for (const k of keys) {
    const v = record[k];
    if (v === undefined) continue;
    if (!first) out.push(",");
    first = false;
    out.push(JSON.stringify(k), ":");
    canonical(v, out);
  }
  out.push("}");
}

/** Canonical JSON of a parsed JSON value: sorted object keys, no whitespace. */
export function canonicalJson(value: unknown, omitTopLevel: ReadonlySet<string> = new Set()): string {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const out: string[] = [];
    canonical(value, out);
    return out.join("");
  }
  const filtered: Record<string, unknown> = {};
  for (const k of Object.keys(value)) if (!omitTopLevel.has(k)) filtered[k] = (value as Record<string, unknown>)[k];
  const out: string[] = [];
  canonical(filtered, out);
  return out.join("");
}

export interface CacheKeyInput {
  body: Record<string, unknown>;
  /** The upstreams the model routes to (names in order): a routing change starts a fresh cache. */
  route: string;
  /** Tenant id for the per-tenant scope, or null for the global scope. */
  tenantId: string | null;
}

/** `llm/v1/<tenant id | _global>/<sha256 hex>`. */
export async function cacheKey(input: CacheKeyInput): Promise<string> {
  const scope = input.tenantId ?? "_global";
  const material = `${CACHE_VERSION}\n${scope}\n${input.route}\n${canonicalJson(input.body, KEY_DENYLIST)}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(material));
  return `llm/${CACHE_VERSION}/${scope}/${toHex(digest)}`;
}
