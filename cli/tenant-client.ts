/**
 * A small client for the tenant API (an API key with the jobs scope), used by the template and job commands:
 * JSON requests, the job's live events (SSE, resumed with Last-Event-ID after a dropped connection) and
 * output downloads. The key goes to COMFY_EDGE_URL only: redirects are reported, never followed.
 */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { createParser } from "eventsource-parser";
import { z } from "zod";
import { AdminApiError } from "./admin-client.ts";
import { UsageError } from "./config.ts";

export const TenantConfig = z.object({
  COMFY_EDGE_URL: z
    .url({ message: "COMFY_EDGE_URL must be a URL such as http://127.0.0.1:8787" })
    .default("http://127.0.0.1:8787"),
  COMFY_EDGE_API_KEY: z
    .string({ message: "COMFY_EDGE_API_KEY is required (an API key with the jobs scope: keys create)" })
    .min(1, "COMFY_EDGE_API_KEY is empty"),
});

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

export class TenantClient {
  readonly baseUrl: string;
  private readonly key: string;
  constructor(env: NodeJS.ProcessEnv) {
    const parsed = TenantConfig.safeParse({
      COMFY_EDGE_URL: env.COMFY_EDGE_URL,
      COMFY_EDGE_API_KEY: env.COMFY_EDGE_API_KEY,
    });
    if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join("; "));
    this.baseUrl = parsed.data.COMFY_EDGE_URL.replace(/\/$/, "");
    this.key = parsed.data.COMFY_EDGE_API_KEY;
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${this.key}`, ...(init.headers as Record<string, string>) },
        redirect: "manual",
      });
    } catch (err) {
      if ((err as Error).name === "AbortError") throw err;
      throw new AdminApiError(0, "unreachable", `Cannot reach ${this.baseUrl} (${(err as Error).message}).`);
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      throw new AdminApiError(
        res.status,
        "redirected",
        `${this.baseUrl} answered with a redirect; the API key is not sent elsewhere.`,
      );
    }
    if (!res.ok) {
      const text = await res.text();
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        // not JSON
      }
      const envelope = ErrorEnvelope.safeParse(json);
      if (envelope.success) {
        const e = envelope.data.error;
        throw new AdminApiError(res.status, e.code, e.param ? `${e.message} [${e.param}]` : e.message);
      }
      throw new AdminApiError(res.status, "http_error", `HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    return res;
  }

  async json<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ data: T; headers: Headers }> {
    const res = await this.fetch(path, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { data: (await res.json()) as T, headers: res.headers };
  }

  /** Follows a job's events until the stream ends (after the terminal event), resuming after drops. */
  async events(jobId: string, onEvent: (e: SseEvent) => void, retries = 5): Promise<void> {
    let lastId: string | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.fetch(`/v1/jobs/${encodeURIComponent(jobId)}/events`, {
          headers: { accept: "text/event-stream", ...(lastId ? { "last-event-id": lastId } : {}) },
        });
        const parser = createParser({
          onEvent: (m) => {
            if (m.id) lastId = m.id;
            onEvent({ id: m.id, event: m.event ?? "message", data: m.data });
          },
        });
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          parser.feed(value);
        }
      } catch (err) {
        if (err instanceof AdminApiError && err.status >= 400) throw err;
        if (attempt >= retries) throw err;
        await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
      }
    }
  }

  async download(jobId: string, index: number): Promise<Uint8Array> {
    const res = await this.fetch(`/v1/jobs/${encodeURIComponent(jobId)}/outputs/${index}`);
    return new Uint8Array(await res.arrayBuffer());
  }
}
