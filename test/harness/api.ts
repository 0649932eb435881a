/** Small HTTP helpers for cross-component tests: a tenant+key fixture and a scripted runner. */
import { LeaseGrant } from "@comfy-edge/shared/contract";
import type { Stack } from "./stack.ts";

export interface Tenant {
  id: string;
  key: string;
  webhook_secret: string;
}

export async function tenantWithKey(stack: Stack, body: Record<string, unknown> = {}): Promise<Tenant> {
  // Tenant names are unique: each fixture gets its own unless the test names it.
  const name = `t-${crypto.randomUUID()}`;
  const t = await stack.admin<{ id: string; webhook_secret: string }>("/admin/v1/tenants", { name, ...body });
  const k = await stack.admin<{ key: string }>("/admin/v1/keys", { tenant_id: t.id, scopes: ["llm", "jobs"] });
  return { id: t.id, key: k.key, webhook_secret: t.webhook_secret };
}

export async function ensurePool(stack: Stack, name: string, tenants?: string[]): Promise<void> {
  const res = await fetch(`${stack.url}/admin/v1/pools`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name, tenants }),
  });
  if (res.status !== 201 && res.status !== 409) throw new Error(`pool ${name}: ${res.status} ${await res.text()}`);
}

export async function runnerToken(stack: Stack, pool: string): Promise<string> {
  await ensurePool(stack, pool);
  return (await stack.admin<{ token: string }>("/admin/v1/runner-tokens", { pool })).token;
}

export function api(stack: Stack, key: string) {
  return async (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${stack.url}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: {
        authorization: `Bearer ${key}`,
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, headers: res.headers, json: json as Record<string, any> };
  };
}

/** A runner driven step by step by the test, speaking the runner API over HTTP. */
export class ScriptedRunner {
  readonly stack: Stack;
  readonly token: string;
  readonly id: string;
  constructor(stack: Stack, token: string, id = "scripted-1") {
    this.stack = stack;
    this.token = token;
    this.id = id;
  }

  private async call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${this.stack.url}/runner/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : null) as Record<string, any> };
  }

  async lease(waitS = 5): Promise<LeaseGrant | null> {
    const res = await this.call("POST", "/lease", { runner_id: this.id, version: "test", wait_s: waitS });
    if (res.status === 204) return null;
    if (res.status !== 200) throw new Error(`lease: ${res.status} ${JSON.stringify(res.json)}`);
    return LeaseGrant.parse(res.json);
  }

  heartbeat(leaseId: string) {
    return this.call("POST", `/leases/${leaseId}/heartbeat`);
  }

  event(leaseId: string, event: Record<string, unknown>) {
    return this.call("POST", `/leases/${leaseId}/events`, event);
  }

  giveBack(leaseId: string) {
    return this.call("DELETE", `/leases/${leaseId}`);
  }

  /** Mints an upload URL and PUTs the bytes; returns the output reference for `succeeded`. */
  async upload(leaseId: string, bytes: Uint8Array, filename = "out.png", contentType = "image/png", nodeId = "9") {
    const res = await this.call("POST", `/leases/${leaseId}/uploads`, {
      filename,
      content_type: contentType,
      node_id: nodeId,
    });
    if (res.status !== 201) return { status: res.status, json: res.json, ref: null };
    const put = await fetch(res.json.upload_url, {
      method: "PUT",
      body: new Blob([bytes as Uint8Array<ArrayBuffer>]),
      headers: { "content-type": contentType },
    });
    if (put.status !== 200) throw new Error(`PUT ${put.status} ${await put.text()}`);
    return {
      status: 201,
      json: res.json,
      ref: { key: res.json.key as string, node_id: nodeId, filename, content_type: contentType },
    };
  }
}

export const TRIVIAL_WORKFLOW = {
  "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
  "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
  "9": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "comfy-edge" } },
};

/** Reads an SSE stream until `until` returns true for an event or the stream ends. */
export async function readSse(
  url: string,
  key: string,
  options: {
    lastEventId?: string;
    until?: (e: { id: string; event: string; data: any }) => boolean;
    timeoutMs?: number;
  } = {},
) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 15_000);
  const res = await fetch(url, {
    headers: {
      authorization: `Bearer ${key}`,
      ...(options.lastEventId ? { "last-event-id": options.lastEventId } : {}),
    },
    signal: controller.signal,
  });
  const events: Array<{ id: string; event: string; data: any }> = [];
  const comments: string[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += value;
      let idx = buffer.indexOf("\n\n");
      while (idx >= 0) {
        const block = buffer.slice(0, idx);
        buffer = buffer.slice(idx + 2);
        idx = buffer.indexOf("\n\n");
        const e = { id: "", event: "message", data: null as any };
        let isEvent = false;
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) comments.push(line);
          else if (line.startsWith("id: ")) e.id = line.slice(4);
          else if (line.startsWith("event: ")) e.event = line.slice(7);
          else if (line.startsWith("data: ")) {
            e.data = JSON.parse(line.slice(6));
            isEvent = true;
          }
        }
        if (isEvent) {
          events.push(e);
          if (options.until?.(e)) {
            controller.abort();
            return { status: res.status, headers: res.headers, events, comments, ended: false };
          }
        }
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    throw new Error(`SSE timed out after ${events.length} events`);
  } finally {
    clearTimeout(timer);
  }
  return { status: res.status, headers: res.headers, events, comments, ended: true };
}
