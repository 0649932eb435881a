/** A small client for the admin API, used by the CLI. */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { z } from "zod";

export const AdminConfig = z.object({
  COMFY_EDGE_URL: z
    .url({ message: "COMFY_EDGE_URL must be a URL such as http://127.0.0.1:8787" })
    .default("http://127.0.0.1:8787"),
  COMFY_EDGE_ADMIN_TOKEN: z
    .string({ message: "COMFY_EDGE_ADMIN_TOKEN is required (the deployment's ADMIN_TOKEN)" })
    .min(1, "COMFY_EDGE_ADMIN_TOKEN is empty"),
});
export type AdminConfig = z.infer<typeof AdminConfig>;

export class AdminApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class AdminClient {
  readonly baseUrl: string;
  readonly token: string;
  constructor(config: AdminConfig) {
    this.baseUrl = config.COMFY_EDGE_URL.replace(/\/$/, "");
    this.token = config.COMFY_EDGE_ADMIN_TOKEN;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        // The admin token goes to COMFY_EDGE_URL and nowhere else: a redirect is reported, not followed.
        redirect: "manual",
      });
    } catch (err) {
      throw new AdminApiError(
        0,
        "unreachable",
        `Cannot reach ${this.baseUrl} (${(err as Error).message}). Is the gateway running (npm start)?`,
      );
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      throw new AdminApiError(
        res.status,
        "redirected",
        `${this.baseUrl} answered with a redirect to ${res.headers.get("location") ?? "(no location)"}; the admin token is not sent there. Set COMFY_EDGE_URL to the gateway's own URL.`,
      );
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    if (!res.ok) {
      const envelope = ErrorEnvelope.safeParse(json);
      if (envelope.success) throw new AdminApiError(res.status, envelope.data.error.code, envelope.data.error.message);
      throw new AdminApiError(res.status, "http_error", `HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    return json as T;
  }
}
