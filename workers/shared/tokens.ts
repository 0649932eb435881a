/**
 * Bearer secrets handed to clients: API keys (`ce_sk_...`) and runner tokens (`ce_rt_...`).
 *
 * Format: `ce_<kind>_` + 22 random base62 characters (131 bits) + an 8-character tag + a 4-character key
 * id. The tag is the first 8 bytes of HMAC-SHA256(secret, "<kind>:" + random) mapped to base62, with the
 * secret of the signing key ring (signing-keys.ts) that the key id names. The tag lets the gateway reject
 * guessed or mistyped secrets with no storage lookup (and so no Durable Object per guessed key); the secret
 * itself is stored only as a SHA-256 hash. Tokens issued before key ids existed have no key id (30
 * characters after the prefix) and verify against every secret in the ring.
 */
import { bytesEqual, hmacSha256, randomBase62, sha256Hex } from "./crypto.ts";
import { candidates, type SigningKey, type SigningRing, signingRing } from "./signing-keys.ts";

export type TokenKind = "sk" | "rt";
const RANDOM_LENGTH = 22;
const TAG_LENGTH = 8;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PATTERN = /^ce_(sk|rt)_([0-9A-Za-z]{22})([0-9A-Za-z]{8})([0-9A-Za-z]{4})?$/;

async function tag(kind: TokenKind, random: string, key: CryptoKey): Promise<string> {
  const mac = await hmacSha256(key, `${kind}:${random}`);
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

/** A ring, or a `SIGNING_SECRET` value to build one from. */
export type Signer = SigningRing | string;

async function ringOf(signer: Signer): Promise<SigningRing> {
  return typeof signer === "string" ? signingRing(signer) : signer;
}

/** Issues a token signed with the ring's current secret, carrying its key id. */
export async function issueToken(kind: TokenKind, signer: Signer): Promise<IssuedToken> {
  const { current } = await ringOf(signer);
  const random = randomBase62(RANDOM_LENGTH);
  const token = `ce_${kind}_${random}${await tag(kind, random, current.key)}${current.kid}`;
  return { token, hash: await sha256Hex(token), prefix: token.slice(0, 10) };
}

/** Issues a token the way tokens were issued before key ids (tests of tokens already in circulation). */
export async function issueLegacyToken(kind: TokenKind, key: SigningKey): Promise<IssuedToken> {
  const random = randomBase62(RANDOM_LENGTH);
  const token = `ce_${kind}_${random}${await tag(kind, random, key.key)}`;
  return { token, hash: await sha256Hex(token), prefix: token.slice(0, 10) };
}

/**
 * True when `token` has the right shape and a valid tag for `kind` under a secret of the ring (the one its
 * key id names; every one for a token without a key id). Constant-time tag comparison.
 */
export async function verifyTokenTag(kind: TokenKind, token: string, signer: Signer): Promise<boolean> {
  const m = PATTERN.exec(token);
  if (!m || m[1] !== kind) return false;
  const enc = new TextEncoder();
  const given = enc.encode(m[3]!);
  for (const { key } of candidates(await ringOf(signer), m[4])) {
    if (bytesEqual(enc.encode(await tag(kind, m[2]!, key)), given)) return true;
  }
  return false;
}

export function looksLikeToken(value: string): boolean {
  return PATTERN.test(value);
}
