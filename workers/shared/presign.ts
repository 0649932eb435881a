/**
 * Presigned R2 URLs (S3 API, SigV4 query signing with aws4fetch), so output and input bytes never pass
 * through a Worker and GPU hosts hold no storage credentials. Locally the endpoint is wrangler/Miniflare's
 * `/cdn-cgi/local/r2/s3` on the gateway's own origin (R2_S3_ENDPOINT empty).
 */
import { AwsClient } from "aws4fetch";

export interface PresignEnv {
  R2_ACCESS_KEY_ID: string;
  R2_SECRET_ACCESS_KEY: string;
  R2_S3_ENDPOINT: string;
  R2_BUCKET_NAME: string;
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
    });
    const endpoint = env.R2_S3_ENDPOINT || `${requestOrigin}/cdn-cgi/local/r2/s3`;
    this.base = `${endpoint.replace(/\/$/, "")}/${env.R2_BUCKET_NAME}`;
  }

  async sign(method: "GET" | "PUT", key: string, expiresS: number): Promise<{ url: string; expiresAt: number }> {
    const path = key.split("/").map(encodeURIComponent).join("/");
    const signed = await this.client.sign(`${this.base}/${path}?X-Amz-Expires=${expiresS}`, {
      method,
      aws: { signQuery: true },
    });
    return { url: signed.url, expiresAt: Date.now() + expiresS * 1000 };
  }
}
