/**
 * Bearer secrets handed to clients: API keys (`ce_sk_...`) and runner tokens (`ce_rt_...`).
 *
 * Format: `ce_<kind>_` + 22 random base62 characters (131 bits) + an 8-character tag, the first 8 bytes
 * of HMAC-SHA256(SIGNING_SECRET, "<kind>:" + random) mapped to base62. The tag lets the gateway reject
 * guessed or mistyped secrets with no storage lookup (and so no Durable Object per guessed key);
 * the secret itself is stored only as a SHA-256 hash.
 */
import { bytesEqual, hmacSha256, randomBase62, sha256Hex } from "./crypto.ts";

export type TokenKind = "sk" | "rt";
const RANDOM_LENGTH = 22;
const TAG_LENGTH = 8;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PATTERN = /^ce_(sk|rt)_([0-9A-Za-z]{22})([0-9A-Za-z]{8})$/;

async function tag(kind: TokenKind, random: string, secret: string | CryptoKey): Promise<string> {
  const mac = await hmacSha256(secret, `${kind}:${random}`);
  let out = "";
  for (let i = 0; i < TAG_LENGTH; i++) out += BASE62[mac[i]! % 62];
  return out;
}

export interface IssuedToken {
  /** The secret to show once. */
  token: string;
  /** Hex SHA-256 of the token: what storage keeps. */
  hash: string;
  /** Non-secret beginning, for listings. */
  prefix: string;
}

export async function issueToken(kind: TokenKind, secret: string): Promise<IssuedToken> {
  const random = randomBase62(RANDOM_LENGTH);
  const token = `ce_${kind}_${random}${await tag(kind, random, secret)}`;
  return { token, hash: await sha256Hex(token), prefix: token.slice(0, 10) };
}

/** True when `token` has the right shape and a valid tag for `kind` (constant-time tag comparison). */
export async function verifyTokenTag(kind: TokenKind, token: string, secret: string | CryptoKey): Promise<boolean> {
  const m = PATTERN.exec(token);
  if (!m || m[1] !== kind) return false;
  const expected = await tag(kind, m[2]!, secret);
  const enc = new TextEncoder();
  return bytesEqual(enc.encode(expected), enc.encode(m[3]!));
}

export function looksLikeToken(value: string): boolean {
  return PATTERN.test(value);
}
