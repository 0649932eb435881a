/**
 * The signing key ring: `SIGNING_SECRET` holds the current secret, optionally followed by earlier ones,
 * comma-separated (`<current>,<previous>`). New API keys, runner tokens and lease ids are signed with the
 * current secret; anything signed with a secret still in the ring keeps verifying, so an operator can
 * rotate without downtime (infra/README.md, "Rotating secrets"). Each secret has a key id derived from it
 * (4 base62 characters of an HMAC), carried by newly issued tokens so verification picks the right secret;
 * tokens issued before key ids existed are checked against every secret in the ring.
 */
import { hmacKey, hmacSha256 } from "./crypto.ts";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
export const KEY_ID_LENGTH = 4;

export interface SigningKey {
  /** Key id: which secret signed a token. Not secret. */
  kid: string;
  key: CryptoKey;
}

export interface SigningRing {
  /** Signs everything new. */
  current: SigningKey;
  /** Current first, then the earlier secrets still accepted. */
  all: SigningKey[];
}

/** The secrets of a `SIGNING_SECRET` value, current first. Throws when there is none. */
export function ringSecrets(value: string): string[] {
  const secrets = value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (secrets.length === 0) throw new Error("SIGNING_SECRET is empty: set it to a random secret (infra/README.md).");
  return secrets;
}

export async function keyId(key: CryptoKey): Promise<string> {
  const mac = await hmacSha256(key, "comfy-edge:key-id");
  let out = "";
  for (let i = 0; i < KEY_ID_LENGTH; i++) out += BASE62[mac[i]! % 62];
  return out;
}

export async function signingRing(value: string): Promise<SigningRing> {
  const all = await Promise.all(
    ringSecrets(value).map(async (secret) => {
      const key = await hmacKey(secret);
      return { kid: await keyId(key), key };
    }),
  );
  return { current: all[0]!, all };
}

/** The keys to try for a token: those with its key id, or all of them for a token without one. */
export function candidates(ring: SigningRing, kid: string | undefined): SigningKey[] {
  return kid === undefined ? ring.all : ring.all.filter((k) => k.kid === kid);
}

/**
 * Memoises the imported ring of one `SIGNING_SECRET` value (importing costs more than the MAC itself).
 * One memo per caller, e.g. per middleware instance.
 */
export function signingRingMemo(): (value: string) => Promise<SigningRing> {
  // Holds the resolved ring, never a promise: on Workers a promise must not be shared across requests.
  let last: { value: string; ring: SigningRing } | null = null;
  return async (value) => {
    if (last?.value === value) return last.ring;
    const ring = await signingRing(value);
    last = { value, ring };
    return ring;
  };
}
