import { canonicalIp, parseIp } from "./ip.ts";

/**
 * Names that resolve inside private networks (RFC 6761, RFC 6762, RFC 8375 and common practice), with
 * Kubernetes service names (`*.svc`, `*.cluster.local`): an LLM server fetching a chat image inside a
 * cluster resolves them to internal services.
 */
const INTERNAL_SUFFIXES = ["local", "localdomain", "internal", "intranet", "lan", "home", "corp", "home.arpa", "svc"];

/**
 * Public DNS names of cloud metadata services (they resolve to link-local addresses from inside the cloud):
 * refused with their subdomains. `metadata.google.internal` is covered by `.internal`.
 */
const METADATA_NAMES = ["metadata.goog", "metadata.tencentyun.com"];

/** URL.hostname -> normalised host: lower case (URL already did punycode), one trailing dot removed. */
export function normaliseHostname(hostname: string): string {
  const lower = hostname.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

export function isLocalhostName(host: string): boolean {
  return host === "localhost" || host.endsWith(".localhost");
}

/** Why a (non-IP) host name is unsafe, or null. Checked before DNS, so it is about names, not addresses. */
export function hostNameReason(host: string, allowPrivate: boolean): string | null {
  if (host.split(".").some((label) => label === "")) return `host name ${host} is malformed (empty label)`;
  if (host.length > 253 || host.split(".").some((label) => label.length > 63)) {
    return "host name is too long";
  }
  if (isLocalhostName(host)) return allowPrivate ? null : `loopback host name ${host} is not allowed`;
  if (!host.includes(".")) return `single-label host name ${host} is not allowed (it resolves inside private networks)`;
  const metadata = METADATA_NAMES.find((name) => host === name || host.endsWith(`.${name}`));
  if (metadata !== undefined) return `cloud metadata host name ${host} is not allowed`;
  const suffix = INTERNAL_SUFFIXES.find((s) => host.endsWith(`.${s}`));
  if (suffix !== undefined) return `internal host name ${host} (.${suffix}) is not allowed`;
  return null;
}

/** Normalises a host (or IP literal) the way URL hosts are normalised; null when it is not a valid host. */
function normaliseName(name: string): string | null {
  const ip = parseIp(name);
  if (ip !== null && name.includes(":")) return `[${canonicalIp(ip)}]`;
  try {
    const url = new URL(`https://${name}/`);
    const clean = url.username === "" && url.password === "" && url.port === "" && url.pathname === "/";
    if (!clean || url.search !== "" || url.hash !== "") return null;
    return normaliseHostname(url.hostname);
  } catch {
    return null;
  }
}

/**
 * Normalises one allowlist entry: exact host (IDN -> punycode, case folded, trailing dot removed; IPv6
 * in brackets) or `*.` + such a host. A full URL is reduced to its host. An entry that is not a valid
 * host is kept as written (lower case): it then matches nothing, and the list stays non-empty.
 */
export function normaliseAllowlistEntry(entry: string): string {
  let text = entry.trim().toLowerCase();
  if (text.includes("://")) {
    try {
      text = new URL(text).hostname;
    } catch {
      return text;
    }
  }
  if (text.startsWith("*.")) {
    const rest = normaliseName(text.slice(2));
    return rest === null || rest.startsWith("[") ? text : `*.${rest}`;
  }
  return normaliseName(text) ?? text;
}

/** Exact entries match exactly; `*.example.com` matches any strict subdomain, never example.com itself. */
export function hostMatchesAllowlist(host: string, allowlist: readonly string[]): boolean {
  return allowlist.some((raw) => {
    const entry = normaliseAllowlistEntry(raw);
    if (entry.startsWith("*.")) {
      const suffix = entry.slice(1);
      return parseIp(host) === null && host.length > suffix.length && host.endsWith(suffix);
    }
    return host === entry;
  });
}
