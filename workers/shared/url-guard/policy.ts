import { normaliseAllowlistEntry } from "./host.ts";
import type { UrlPolicy, UrlPurpose } from "./types.ts";

/** Default decoded-size cap for data: URLs: 10 MB. */
export const DEFAULT_MAX_DATA_BYTES: number = 10 * 1024 * 1024;

/** The deployment vars the URL policy reads (a Worker's `env` or `process.env` fits). */
export interface UrlEnv {
  readonly ALLOW_HTTP_URLS?: string;
  readonly ALLOW_PRIVATE_URLS?: string;
  readonly MAX_DATA_URL_BYTES?: string;
  readonly URL_ALLOWED_PORTS?: string;
  readonly IMAGE_URL_ALLOWLIST?: string;
}

export interface TenantUrlSettings {
  image_url_allowlist?: string[] | null;
  webhook_host_allowlist?: string[] | null;
}

/** "true", "1", "yes", "on" (any case) are true; anything else, including absent, is false. */
export function envFlag(value: string | undefined): boolean {
  return value !== undefined && /^\s*(true|1|yes|on)\s*$/i.test(value);
}

/** Comma-separated list, entries trimmed, empty ones dropped. */
export function envList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/** Ports 1-65535 from a comma list; entries that are not such ports are ignored (the list gets stricter). */
export function envPorts(value: string | undefined): number[] {
  return envList(value)
    .filter((entry) => /^\d{1,5}$/.test(entry))
    .map(Number)
    .filter((port) => port >= 1 && port <= 65535);
}

function envPositiveInt(value: string | undefined, fallback: number): number {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return fallback;
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) && parsed > 0 ? parsed : fallback;
}

/**
 * Builds the policy for one use of a URL from deployment env vars and the tenant's settings.
 * image: tenant image_url_allowlist when it is non-null (an empty list then means any public host),
 * else the deployment's IMAGE_URL_ALLOWLIST; data: URLs allowed. webhook: tenant webhook_host_allowlist
 * or any public host; no data: URLs.
 */
export function policyFor(purpose: UrlPurpose, env: UrlEnv, tenant?: TenantUrlSettings | null): UrlPolicy {
  const base = {
    allowHttp: envFlag(env.ALLOW_HTTP_URLS),
    allowPrivate: envFlag(env.ALLOW_PRIVATE_URLS),
    maxDataBytes: envPositiveInt(env.MAX_DATA_URL_BYTES, DEFAULT_MAX_DATA_BYTES),
    allowedPorts: envPorts(env.URL_ALLOWED_PORTS),
  };
  if (purpose === "webhook") {
    const list = tenant?.webhook_host_allowlist ?? [];
    return {
      ...base,
      allowData: false,
      hostAllowlist: list.map(normaliseAllowlistEntry),
      allowlistName: "this tenant's webhook_host_allowlist",
    };
  }
  const tenantList = tenant?.image_url_allowlist;
  const fromTenant = tenantList !== undefined && tenantList !== null;
  const list = fromTenant ? tenantList : envList(env.IMAGE_URL_ALLOWLIST);
  return {
    ...base,
    allowData: true,
    hostAllowlist: list.map(normaliseAllowlistEntry),
    allowlistName: fromTenant ? "this tenant's image_url_allowlist" : "the deployment's IMAGE_URL_ALLOWLIST",
  };
}

/**
 * The warning the gateway and the runner log at start when ALLOW_PRIVATE_URLS is on (it must never be
 * on in production), or null when it is off.
 */
export function privateUrlsWarning(env: Record<string, string | undefined>): string | null {
  if (!envFlag(env.ALLOW_PRIVATE_URLS)) return null;
  return "ALLOW_PRIVATE_URLS is on: image and webhook URLs may reach loopback and private addresses over plain http. Use this for local development only, never in production.";
}
