/**
 * CORS for browser clients of the public API (`/v1/*`), with hono/cors. The deployment var
 * `CORS_ALLOWED_ORIGINS` lists the origins a web page may call from: exact origins
 * (`https://app.example.com`, `http://localhost:5173`), subdomain wildcards (`https://*.example.com`) or
 * `*`. Empty (the default): no CORS headers, so browsers refuse cross-origin calls. Preflights
 * (`OPTIONS` with `Origin`) are answered 204 here, before authentication: they carry no key. Keys are
 * bearer tokens, never cookies, so credentials mode stays off.
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { AppEnv } from "../types.ts";

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
  const exact = new Set<string>();
  const wildcards: { protocol: string; suffix: string; port: string }[] = [];
  const invalid: string[] = [];
  let any = false;
  for (const entry of (value ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
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
    origin: (origin, c) => allowedOrigin(origin, rulesOf(c.env.CORS_ALLOWED_ORIGINS)),
    allowMethods: METHODS,
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: MAX_AGE_S,
  });
  return async (c, next) => {
    if (!corsEnabled(rulesOf(c.env.CORS_ALLOWED_ORIGINS))) return next();
    return handler(c, next);
  };
}
