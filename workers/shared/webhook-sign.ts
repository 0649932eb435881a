/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): HMAC-SHA256 over "id.timestamp.body" with
 * the secret's bytes (base64 after `whsec_`), header `webhook-signature: v1,<base64> [v1,<base64>]`.
 */
import { fromBase64, hmacSha256, toBase64 } from "./crypto.ts";

export function secretBytes(secret: string): Uint8Array<ArrayBuffer> {
  const b64 = secret.startsWith("whsec_") ? secret.slice(6) : secret;
  return fromBase64(b64) as Uint8Array<ArrayBuffer>;
}

/** One `v1,<sig>` per secret, space-separated (during a rotation both the new and the old secret sign). */
export async function signWebhook(secrets: string[], id: string, timestampS: number, body: string): Promise<string> {
  const sigs = await Promise.all(
    secrets.map(async (s) => `v1,${toBase64(await hmacSha256(secretBytes(s), `${id}.${timestampS}.${body}`))}`),
  );
  return sigs.join(" ");
}
