import ipaddr from "ipaddr.js";
import { ApiError } from "../errors.ts";
import { checkDataUrl } from "./data-url.ts";
import { hostMatchesAllowlist, hostNameReason, isLocalhostName, normaliseHostname } from "./host.ts";
import { canonicalIp, isForbiddenAddress, isLoopbackOrPrivate, parseIp } from "./ip.ts";
import { authorityReason, controlCharacterReason, surroundingSpaceReason } from "./raw-form.ts";
import type { UrlCheck, UrlPolicy, UrlReject, UrlRejectCode } from "./types.ts";

function reject(code: UrlRejectCode, reason: string): UrlReject {
  return { ok: false, code, reason };
}

/** The IP literal in a URL host (already canonicalised by the WHATWG URL parser), or null for a name. */
function ipLiteral(host: string): string | null {
  if (host.startsWith("[") && host.endsWith("]")) return host.slice(1, -1);
  return ipaddr.IPv4.isValidFourPartDecimal(host) ? host : null;
}

/**
 * The static URL check (no I/O): surrounding whitespace, scheme, control characters, credentials, host
 * (IP ranges in every spelling, internal names), port, the raw authority against the canonical one
 * (raw-form.ts), then the host allowlist. data: URLs are decoded and checked here. Safety failures are
 * `unsafe_url`; a safe URL whose host is not on a non-empty allowlist is `url_not_allowed`. Callers pass
 * on `url.href` (the canonical serialisation), never the input.
 */
export function checkUrl(input: string, policy: UrlPolicy): UrlCheck {
  const spaced = surroundingSpaceReason(input);
  if (spaced !== null) return reject("unsafe_url", spaced);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return reject("unsafe_url", "not a valid absolute URL");
  }
  const scheme = url.protocol;
  if (scheme === "data:") {
    if (!policy.allowData) return reject("unsafe_url", "data: URLs are not allowed here; use https");
    return checkDataUrl(url, policy.maxDataBytes);
  }
  if (scheme !== "https:" && scheme !== "http:") {
    return reject("unsafe_url", `scheme ${scheme} is not allowed; use https`);
  }
  const control = controlCharacterReason(input);
  if (control !== null) return reject("unsafe_url", control);
  if (url.username !== "" || url.password !== "") {
    return reject("unsafe_url", "URLs with credentials (user:password@) are not allowed");
  }
  const host = normaliseHostname(url.hostname);
  if (host === "") return reject("unsafe_url", "URL has no host");

  const literal = ipLiteral(host);
  let ip: string | null = null;
  let devHost: boolean;
  if (literal !== null) {
    const reason = isForbiddenAddress(literal, policy.allowPrivate);
    if (reason !== null) return reject("unsafe_url", reason);
    const parsed = parseIp(literal);
    ip = parsed === null ? literal : canonicalIp(parsed);
    devHost = policy.allowPrivate && isLoopbackOrPrivate(literal);
  } else {
    const reason = hostNameReason(host, policy.allowPrivate);
    if (reason !== null) return reject("unsafe_url", reason);
    devHost = policy.allowPrivate && isLocalhostName(host);
  }

  // ALLOW_PRIVATE_URLS opens plain http and any port, but only towards loopback/private hosts.
  const httpEnabled = policy.allowHttp || devHost;
  if (scheme === "http:" && !httpEnabled) return reject("unsafe_url", "scheme http: is not allowed; use https");
  const port = url.port === "" ? (scheme === "https:" ? 443 : 80) : Number(url.port);
  const portAllowed = port === 443 || (port === 80 && httpEnabled) || policy.allowedPorts.includes(port) || devHost;
  if (!portAllowed) return reject("unsafe_url", `port ${port} is not allowed; use the default https port 443`);
  const authority = authorityReason(input, url);
  if (authority !== null) return reject("unsafe_url", authority);

  if (policy.hostAllowlist.length > 0 && !hostMatchesAllowlist(host, policy.hostAllowlist)) {
    return reject("url_not_allowed", `host ${host} is not on ${policy.allowlistName ?? "the host allowlist"}`);
  }
  return { ok: true, kind: scheme === "https:" ? "https" : "http", url, host, ip };
}

/** checkUrl, throwing `ApiError(422, code, reason, { param })` when the URL is refused. */
export function assertSafeUrl(input: string, policy: UrlPolicy, param: string): Exclude<UrlCheck, { ok: false }> {
  const result = checkUrl(input, policy);
  if (!result.ok) throw new ApiError(422, result.code, result.reason, { param });
  return result;
}
