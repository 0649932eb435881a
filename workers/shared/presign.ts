/**
 * Presigned R2 URLs (S3 API, SigV4 query signing with aws4fetch), so output and input bytes never pass
 * through a Worker and GPU hosts hold no storage credentials. Locally the endpoint is wrangler/Miniflare's
 * `/cdn-cgi/local/r2/s3` on the gateway's own origin (R2_S3_ENDPOINT empty).
 */
import { AwsClient } from "aws4fetch";
import { downloadHeaders } from "./download.ts";

export interface PresignEnv {
  R2_ACCESS_KEY_ID: string;
  R2_SECRET_ACCESS_KEY: string;
  R2_S3_ENDPOINT: string;
  R2_BUCKET_NAME: string;
}

/** Derived signing keys an isolate keeps per env (a new UTC day or secret adds one; the oldest go first). */
const SIGNING_KEYS_MAX = 4;

/**
 * aws4fetch's cache of derived SigV4 signing keys (HMAC chain of secret, day, region, service; its key names
 * all four), bounded. Without it every signature repeats the chain: four HMACs and their key imports.
 */
class SigningKeys extends Map<string, ArrayBuffer> {
  override set(key: string, value: ArrayBuffer): this {
    super.delete(key);
    super.set(key, value);
    while (this.size > SIGNING_KEYS_MAX) this.delete(this.keys().next().value as string);
    return this;
  }
}

/**
 * One cache per env object (a WeakMap keyed by it, as shared/config.ts parses settings once per env; no
 * other state): requests of an isolate share it. The URLs are the same as without it (same date, scope and
 * expiry; the key depends on nothing else).
 */
const signingKeysByEnv = new WeakMap<PresignEnv, SigningKeys>();

function signingKeys(env: PresignEnv): SigningKeys {
  let keys = signingKeysByEnv.get(env);
  if (!keys) {
    keys = new SigningKeys();
    signingKeysByEnv.set(env, keys);
  }
  return keys;
}

export class Presigner {
  private readonly client: AwsClient;
  private readonly base: string;
  constructor(env: PresignEnv, requestOrigin: string) {
    this.client = new AwsClient({
      accessKeyId: env.R2_ACCESS_KEY_ID,
      secretAccessKey: env.R2_SECRET_ACCESS_KEY,
      service: "s3",
      region: "auto",
      cache: signingKeys(env),
    });
    const endpoint = env.R2_S3_ENDPOINT || `${requestOrigin}/cdn-cgi/local/r2/s3`;
    this.base = `${endpoint.replace(/\/$/, "")}/${env.R2_BUCKET_NAME}`;
  }

  async sign(
    method: "GET" | "PUT",
    key: string,
    expiresS: number,
    query: Record<string, string> = {},
  ): Promise<{ url: string; expiresAt: number }> {
    const path = key.split("/").map(encodeURIComponent).join("/");
    const url = new URL(`${this.base}/${path}`);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    url.searchParams.set("X-Amz-Expires", String(expiresS));
    const signed = await this.client.sign(url.toString(), { method, aws: { signQuery: true } });
    return { url: signed.url, expiresAt: Date.now() + expiresS * 1000 };
  }

  /**
   * A signed GET for a job output that makes the object store answer with the same Content-Type and
   * Content-Disposition as the authenticated download (S3 `response-content-type` /
   * `response-content-disposition` overrides, part of the signature so they cannot be changed), whatever
   * type the runner stored the object with. R2 honours these; the local endpoint of wrangler/Miniflare
   * checks that they are signed but serves the stored type (only the local stack's own origin is
   * concerned; the authenticated download sets every header itself).
   */
  signDownload(
    key: string,
    output: { content_type: string; filename: string },
    expiresS: number,
  ): Promise<{ url: string; expiresAt: number }> {
    const headers = downloadHeaders(output);
    return this.sign("GET", key, expiresS, {
      "response-content-type": headers["content-type"],
      "response-content-disposition": headers["content-disposition"],
    });
  }
}
