/**
 * The LLM proxy under test: the real stack on workerd (programmatic Miniflare, real KV/D1/DOs) with two
 * upstream doubles, and the official `openai` SDK as the client.
 *
 *   primary    priority 1, no API key, serves gpt-test, vision-*, tool-*, flaky-*; 2 retries
 *   secondary  priority 2, key from the secret SECONDARY_KEY, serves gpt-test, fallback-*, flaky-*
 *   slow       the primary's server under another name: slow-*, timeout 400 ms, no retries
 */
import OpenAI from "openai";
import { type Stack, startStack } from "../harness/stack.ts";
import { type LoggedRequest, startUpstreamDouble, type UpstreamDouble } from "./upstream-double.ts";

export const SECONDARY_KEY = "sk-secondary-0123456789abcdefSECRET";
export const IMAGE_HOST = "images.example.com";

export interface LlmStack {
  stack: Stack;
  primary: UpstreamDouble;
  secondary: UpstreamDouble;
  /** Requests to either double, in arrival order. */
  log: LoggedRequest[];
  /** A tenant and an llm key; `client` is an SDK client using that key (no SDK retries). */
  tenant(body?: Record<string, unknown>, key?: Record<string, unknown>): Promise<Tenant>;
  close(): Promise<void>;
}

export interface Tenant {
  id: string;
  key: string;
  client: OpenAI;
}

export function upstreamsConfig(primary: string, secondary: string): string {
  return JSON.stringify([
    { name: "primary", base_url: primary, models: ["gpt-test", "vision-*", "tool-*", "flaky-*"], priority: 1 },
    {
      name: "secondary",
      base_url: secondary,
      api_key_secret: "SECONDARY_KEY",
      models: ["gpt-test", "fallback-*", "flaky-*"],
      priority: 2,
    },
    { name: "slow", base_url: primary, models: ["slow-*"], timeout_ms: 400, max_retries: 0, priority: 3 },
  ]);
}

export function sdk(baseUrl: string, key: string): OpenAI {
  return new OpenAI({ apiKey: key, baseURL: `${baseUrl}/v1`, maxRetries: 0, timeout: 20_000 });
}

export async function startLlmStack(vars: Record<string, string> = {}): Promise<LlmStack> {
  const log: LoggedRequest[] = [];
  const primary = await startUpstreamDouble({ name: "primary", models: ["gpt-test", "vision-large", "other"], log });
  const secondary = await startUpstreamDouble({ name: "secondary", models: ["fallback-small"], log });
  const stack = await startStack({
    vars: { LLM_UPSTREAMS: upstreamsConfig(primary.url, secondary.url), SECONDARY_KEY, ...vars },
  });
  let n = 0;
  return {
    stack,
    primary,
    secondary,
    log,
    async tenant(body = {}, keyBody = {}) {
      n++;
      const tenant = await stack.admin<{ id: string }>("/admin/v1/tenants", {
        name: `llm-${n}`,
        image_url_allowlist: [IMAGE_HOST],
        ...body,
      });
      const { key } = await stack.admin<{ key: string }>("/admin/v1/keys", {
        tenant_id: tenant.id,
        scopes: ["llm"],
        ...keyBody,
      });
      return { id: tenant.id, key, client: sdk(stack.url, key) };
    },
    async close() {
      await stack.close();
      await Promise.all([primary.close(), secondary.close()]);
    },
  };
}

/** A unique user message, so each test's requests (and cache keys) are its own. */
export function unique(label: string): string {
  return `${label} ${Math.random().toString(36).slice(2)}`;
}

export function forwarded(log: LoggedRequest[], text: string): LoggedRequest[] {
  return log.filter((r) => JSON.stringify(r.body ?? {}).includes(text));
}

/** Raw HTTP call to the gateway (for headers the SDK does not expose, and non-SDK checks). */
export async function post(
  stack: Stack,
  key: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${stack.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}
