/**
 * Secrets at rest (tenants' webhook secrets in D1): AES-256-GCM with a key derived (HKDF-SHA256) from the
 * Worker secret `WEBHOOK_SECRET_KEY`. Like SIGNING_SECRET it is a ring: `<current>[,<previous>...]`; new
 * values are sealed with the current key, values sealed with any key in the ring open, so the key can be
 * rotated (infra/README.md, "Rotating secrets").
 *
 *   enc:v1:<key id>:<base64url(12-byte IV)>:<base64url(ciphertext + tag)>
 *
 * The additional data binds a sealed value to its context (the tenant id), so a value copied into another
 * row does not open. Values not in this format are plaintext from before encryption and open as they are.
 */
import { fromBase64Url, hmacKey, toBase64Url } from "./crypto.ts";
import { keyId, ringSecrets } from "./signing-keys.ts";

const PREFIX = "enc:v1:";
const SEALED = /^enc:v1:([0-9A-Za-z]{4}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]+)$/;
const encoder = new TextEncoder();

interface BoxKey {
  kid: string;
  key: CryptoKey;
}

export interface SecretBox {
  current: BoxKey;
  all: BoxKey[];
}

/** Raised when a sealed value cannot be opened: no key in the ring has its id, or it was tampered with. */
export class SecretBoxError extends Error {
  override name = "SecretBoxError";
}

async function boxKey(secret: string): Promise<BoxKey> {
  const material = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
  const key = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: encoder.encode("comfy-edge"), info: encoder.encode("secret-box/v1") },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
  return { kid: await keyId(await hmacKey(secret)), key };
}

/** The box of a `WEBHOOK_SECRET_KEY` value. Throws when it is unset or empty. */
export async function secretBox(value: string | undefined): Promise<SecretBox> {
  if (!value?.trim())
    throw new Error("WEBHOOK_SECRET_KEY is not set: set it to a random secret (infra/README.md, 'Secrets').");
  const all = await Promise.all(ringSecrets(value).map(boxKey));
  return { current: all[0]!, all };
}

export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

/** Encrypts `plaintext` for storage under `context` (e.g. the tenant id) with the box's current key. */
export async function sealSecret(box: SecretBox, plaintext: string, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
    box.current.key,
    encoder.encode(plaintext),
  );
  return `${PREFIX}${box.current.kid}:${toBase64Url(iv)}:${toBase64Url(new Uint8Array(ct))}`;
}

/** The plaintext of a stored value: decrypted when sealed, as it is when stored before encryption. */
export async function openSecret(box: SecretBox, stored: string, context: string): Promise<string> {
  if (!isSealed(stored)) return stored;
  const m = SEALED.exec(stored);
  if (!m) throw new SecretBoxError("a sealed secret is malformed");
  const key = box.all.find((k) => k.kid === m[1]);
  if (!key)
    throw new SecretBoxError(
      `a secret is sealed with key id ${m[1]}, which is not in WEBHOOK_SECRET_KEY (add the previous key back)`,
    );
  try {
    const pt = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64Url(m[2]!), additionalData: encoder.encode(context) },
      key.key,
      fromBase64Url(m[3]!),
    );
    return new TextDecoder().decode(pt);
  } catch {
    throw new SecretBoxError(`a secret sealed with key id ${m[1]} does not open (wrong context or altered)`);
  }
}

/** The stored value re-sealed with the current key (plaintext and values under earlier keys alike). */
export async function resealSecret(box: SecretBox, stored: string, context: string): Promise<string> {
  const m = SEALED.exec(stored);
  if (m && m[1] === box.current.kid) return stored;
  return sealSecret(box, await openSecret(box, stored, context), context);
}
