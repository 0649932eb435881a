/** Test helpers: talk to the gateway over HTTP inside workerd, as a client would. */
import { exports } from "cloudflare:workers";

export const ADMIN_TOKEN = "test-admin-token";
const BASE = "https://gateway.test";

export interface CallOptions {
  method?: string;
  body?: unknown;
  rawBody?: BodyInit;
  token?: string | null;
  headers?: Record<string, string>;
}

export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  // Each call comes from its own address unless the test says otherwise, so the per-IP limit for
  // unauthenticated requests only counts what a test means it to.
  if (!headers.has("cf-connecting-ip"))
    headers.set("cf-connecting-ip", `198.51.100.${Math.floor(Math.random() * 250) + 1}`);
  if (options.token) headers.set("authorization", `Bearer ${options.token}`);
  let body: BodyInit | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return exports.default.fetch(
    new Request(`${BASE}${path}`, { method: options.method ?? (body !== undefined ? "POST" : "GET"), headers, body }),
  );
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export function admin(path: string, options: Omit<CallOptions, "token"> = {}): Promise<Response> {
  return call(path, { ...options, token: ADMIN_TOKEN });
}

export interface TenantFixture {
  id: string;
  webhook_secret: string;
}

export async function createTenant(body: Record<string, unknown> = {}): Promise<TenantFixture> {
  // Tenant names are unique: each fixture gets its own unless the test names it.
  const res = await admin("/admin/v1/tenants", { body: { name: `Acme ${crypto.randomUUID()}`, ...body } });
  if (res.status !== 201) throw new Error(`tenant create failed: ${res.status} ${await res.text()}`);
  return json<TenantFixture>(res);
}

export async function createKey(
  tenantId: string,
  body: Record<string, unknown> = {},
): Promise<{ id: string; key: string }> {
  const res = await admin("/admin/v1/keys", { body: { tenant_id: tenantId, scopes: ["llm", "jobs"], ...body } });
  if (res.status !== 201) throw new Error(`key create failed: ${res.status} ${await res.text()}`);
  return json(res);
}

export async function createPool(name: string, body: Record<string, unknown> = {}): Promise<Response> {
  return admin("/admin/v1/pools", { body: { name, ...body } });
}

export interface ErrorBody {
  error: { type: string; code: string; message: string; param: string | null; request_id: string };
}

export async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const body = (await res.json()) as ErrorBody;
  if (res.status !== status || body.error?.code !== code) {
    throw new Error(`expected ${status} ${code}, got ${res.status} ${JSON.stringify(body)}`);
  }
  if (body.error.request_id !== res.headers.get("x-request-id"))
    throw new Error("request_id does not match x-request-id");
  return body;
}
