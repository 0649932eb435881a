/**
 * CORS for browser clients of the public API (`/v1/*`), with hono/cors (docs/cors.md). The deployment var
 * `CORS_ALLOWED_ORIGINS` lists the origins a web page may call from: exact origins
 * (`https://app.example.com`, `http://localhost:5173`), subdomain wildcards (`https://*.example.com`) or
 * `*`; a tenant's `cors_allowed_origins` replaces it for that tenant's keys. Nothing configured: no CORS
 * headers, so browsers refuse cross-origin calls. Keys are bearer tokens, never cookies, so credentials
 * mode stays off.
 *
 * A preflight (`OPTIONS` with `Origin`) carries no key, so it is answered 204 for any origin the deployment
 * or some tenant allows (middleware/cors-tenants.ts). The real request carries the key: `assertTenantOrigin`
 * (called by api-key-auth.ts) refuses it with 403 `origin_not_allowed` before the route runs when its
 * tenant does not allow the origin, so passing a preflight thanks to another tenant's list does nothing.
 */

import { ApiError } from "@comfy-edge/shared/errors";
import type { Context, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { AppEnv, TenantSnapshot } from "../types.ts";
import { tenantOrigins } from "./cors-tenants.ts";

export interface CorsRules {
  any: boolean;
  /** Exact origins, serialised (`https://app.example.com`, default port dropped). */
  exact: ReadonlySet<string>;
  /** `https://*.example.com` -> { protocol: "https:", suffix: ".example.com", port: "" }. */
  wildcards: ReadonlyArray<{ protocol: string; suffix: string; port: string }>;
  /** Entries that are not origins (ignored; logged once). */
  invalid: string[];
}

/** Response headers a browser script may read. */
export const EXPOSED_HEADERS = [
  "x-request-id",
  "x-cache",
  "age",
  "ratelimit-limit",
  "ratelimit-remaining",
  "ratelimit-reset",
  "retry-after",
  "x-should-retry",
  "location",
  "preference-applied",
];
const METHODS = ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"];
const MAX_AGE_S = 600;

function asOrigin(text: string): URL | null {
  try {
    const url = new URL(text);
    const bare = url.pathname === "/" && url.search === "" && url.hash === "" && url.username === "" && !url.password;
    return bare && (url.protocol === "https:" || url.protocol === "http:") ? url : null;
  } catch {
    return null;
  }
}

/** Parses CORS_ALLOWED_ORIGINS (comma list; entries trimmed, a trailing slash allowed). */
export function parseCorsOrigins(value: string | undefined): CorsRules {
  return corsRules((value ?? "").split(","));
}

/** Rules from a list of origin patterns (a tenant's `cors_allowed_origins`, the union of all tenants'). */
export function corsRules(entries: readonly string[]): CorsRules {
  const exact = new Set<string>();
  const wildcards: { protocol: string; suffix: string; port: string }[] = [];
  const invalid: string[] = [];
  let any = false;
  for (const entry of entries.map((e) => e.trim()).filter(Boolean)) {
    if (entry === "*") {
      any = true;
      continue;
    }
    const wild = /^(https?):\/\/\*\.(.+)$/i.exec(entry);
    const url = asOrigin(wild ? `${wild[1]}://${wild[2]}` : entry);
    if (url === null) invalid.push(entry);
    else if (wild) wildcards.push({ protocol: url.protocol, suffix: `.${url.hostname}`, port: url.port });
    else exact.add(url.origin);
  }
  return { any, exact, wildcards, invalid };
}

export function corsEnabled(rules: CorsRules): boolean {
  return rules.any || rules.exact.size > 0 || rules.wildcards.length > 0;
}

/** The Access-Control-Allow-Origin value for a request's Origin, or null when it is not allowed. */
export function allowedOrigin(origin: string, rules: CorsRules): string | null {
  if (origin === "") return null;
  if (rules.any) return "*";
  const url = asOrigin(origin);
  if (url === null) return null;
  if (rules.exact.has(url.origin)) return origin;
  const match = rules.wildcards.some(
    (w) => w.protocol === url.protocol && w.port === url.port && url.hostname.endsWith(w.suffix),
  );
  return match ? origin : null;
}

/** The rules for a tenant's keys: its own list when it has one, else the deployment's. */
export function tenantCorsRules(tenant: TenantSnapshot, defaults: CorsRules): CorsRules {
  const own = tenant.cors_allowed_origins;
  return own === null || own === undefined ? defaults : corsRules(own);
}

async function tenantUnion(env: Env): Promise<CorsRules> {
  return corsRules(await tenantOrigins(env.DB));
}

function crossOrigin(c: Context<AppEnv>): string | null {
  const origin = c.req.header("origin");
  return origin === undefined || origin === "" || origin === new URL(c.req.url).origin ? null : origin;
}

/**
 * Called once the key is known, before the route runs: 403 origin_not_allowed when a browser calls from an
 * origin the key's tenant does not allow. Requests without `Origin` (servers, SDKs) and same-origin ones (the
 * console) pass; so does everything in a deployment where neither the var nor any tenant configures CORS.
 */
export async function assertTenantOrigin(c: Context<AppEnv>, tenant: TenantSnapshot): Promise<void> {
  const origin = crossOrigin(c);
  if (origin === null) return;
  const defaults = parseCorsOrigins(c.env.CORS_ALLOWED_ORIGINS);
  if (allowedOrigin(origin, tenantCorsRules(tenant, defaults)) !== null) return;
  if (!corsEnabled(defaults) && !corsEnabled(await tenantUnion(c.env))) return;
  throw new ApiError(
    403,
    "origin_not_allowed",
    `This API key's tenant does not allow browser calls from origin '${origin}'. Call from one of the tenant's allowed origins (the operator sets them: cors_allowed_origins on the tenant), or from a server.`,
  );
}

/** The middleware; the var is parsed once per distinct value (a deployment has one). */
export function corsMiddleware(): MiddlewareHandler<AppEnv> {
  let memoValue: string | undefined;
  let memo: CorsRules = parseCorsOrigins(undefined);
  const rulesOf = (value: string | undefined): CorsRules => {
    if (value !== memoValue) {
      memo = parseCorsOrigins(value);
      memoValue = value;
      if (memo.invalid.length > 0) {
        console.error(
          JSON.stringify({
            level: "error",
            msg: "CORS_ALLOWED_ORIGINS has entries that are not origins",
            invalid: memo.invalid,
          }),
        );
      }
    }
    return memo;
  };
  const handler = cors({
    origin: async (origin, c) => {
      const byDefault = allowedOrigin(origin, rulesOf(c.env.CORS_ALLOWED_ORIGINS));
      if (byDefault !== null || c.req.method !== "OPTIONS") return byDefault;
      // A preflight cannot know the tenant: any tenant's origin passes it (the real request is checked).
      return allowedOrigin(origin, await tenantUnion(c.env)) === null ? null : origin;
    },
    allowMethods: METHODS,
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: MAX_AGE_S,
  });
  return async (c, next) => {
    const defaults = rulesOf(c.env.CORS_ALLOWED_ORIGINS);
    const origin = crossOrigin(c);
    if (!corsEnabled(defaults) && (origin === null || !corsEnabled(await tenantUnion(c.env)))) return next();
    const preflight = await handler(c, next);
    if (preflight !== undefined || origin === null || c.res.headers.has("access-control-allow-origin"))
      return preflight;
    // Not allowed by the deployment's list: the answer is readable when the key's tenant allows the origin,
    // and, for errors before or at authentication (401, 403 origin_not_allowed), when some tenant does.
    const auth = c.get("auth") as AppEnv["Variables"]["auth"] | undefined;
    const byTenant = auth === undefined ? null : allowedOrigin(origin, tenantCorsRules(auth.tenant, defaults));
    const allow = byTenant ?? (allowedOrigin(origin, await tenantUnion(c.env)) === null ? null : origin);
    if (allow !== null) c.res.headers.set("access-control-allow-origin", allow);
  };
}
