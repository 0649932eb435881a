/**
 * The URL corpus: hostile URLs that must be refused and allowed ones that must pass, run against the
 * static check (checkUrl), the edge fetch and the runner's fetcher. Pure data, no I/O. Addresses live in
 * corpus-addresses.ts, parser differentials (URLs other parsers read differently) in corpus-parsers.ts,
 * allowed URLs in corpus-allowed.ts.
 */
import { ADDRESS_CASES } from "./corpus-addresses.ts";
import { ALLOW_EXAMPLE, BASE_POLICY, base64, CORPUS_SECRET, type CorpusCase, DEV, TINY_IMAGES } from "./corpus-case.ts";
import { PARSER_DIFFERENTIALS } from "./corpus-parsers.ts";

export { ALLOWED } from "./corpus-allowed.ts";
export { BASE_POLICY, CORPUS_SECRET, type CorpusCase, TINY_IMAGES };

const PNG64 = base64(TINY_IMAGES.png);
const JPEG64 = base64(TINY_IMAGES.jpeg);
const SVG64 = btoa('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>');

export const HOSTILE: CorpusCase[] = [
  // Schemes
  { url: "file:///etc/passwd", why: "file scheme", expect: "unsafe_url", reason: "scheme file:" },
  { url: "ftp://example.com/a.png", why: "ftp scheme", expect: "unsafe_url", reason: "scheme ftp:" },
  { url: "gopher://example.com:70/_GET%20/", why: "gopher scheme", expect: "unsafe_url", reason: "scheme gopher:" },
  { url: "javascript:alert(1)", why: "javascript scheme", expect: "unsafe_url", reason: "scheme javascript:" },
  { url: "blob:https://example.com/3f1c", why: "blob scheme", expect: "unsafe_url", reason: "scheme blob:" },
  { url: "ws://example.com/socket", why: "ws scheme", expect: "unsafe_url", reason: "scheme ws:" },
  { url: "wss://example.com/socket", why: "wss scheme", expect: "unsafe_url", reason: "scheme wss:" },
  { url: "dict://example.com:2628/", why: "dict scheme", expect: "unsafe_url", reason: "scheme dict:" },
  { url: "ldap://example.com/", why: "ldap scheme", expect: "unsafe_url", reason: "scheme ldap:" },
  { url: "jar:https://example.com/a.jar!/", why: "jar scheme", expect: "unsafe_url", reason: "scheme jar:" },
  { url: "http://example.com/a.png", why: "plain http when not enabled", expect: "unsafe_url", reason: "scheme http:" },
  { url: "/images/a.png", why: "relative URL", expect: "unsafe_url", reason: "not a valid absolute URL" },
  { url: "", why: "empty string", expect: "unsafe_url", reason: "not a valid absolute URL" },
  { url: "https://", why: "no host", expect: "unsafe_url", reason: "not a valid absolute URL" },
  { url: "https://exa mple.com/", why: "space in host", expect: "unsafe_url", reason: "not a valid absolute URL" },
  // data: URLs
  {
    url: "data:text/html,<script>alert(1)</script>",
    why: "data: html",
    expect: "unsafe_url",
    reason: "type text/html",
  },
  { url: `data:image/svg+xml;base64,${SVG64}`, why: "data: svg", expect: "unsafe_url", reason: "type image/svg+xml" },
  { url: `data:;base64,${PNG64}`, why: "data: without type", expect: "unsafe_url", reason: "type text/plain" },
  {
    url: `data:image/png;base64,${JPEG64}`,
    why: "data: png declared, jpeg bytes",
    expect: "unsafe_url",
    reason: "declares image/png but its bytes are image/jpeg",
  },
  {
    url: "data:image/png;base64,aGVsbG8gd29ybGQ=",
    why: "data: png declared, text bytes",
    expect: "unsafe_url",
    reason: "bytes are not",
  },
  {
    url: "data:image/png;base64,iVBORw0K!!!!",
    why: "data: malformed base64",
    expect: "unsafe_url",
    reason: "malformed base64",
  },
  {
    url: "data:image/png;base64,iVBORw0KG",
    why: "data: truncated base64",
    expect: "unsafe_url",
    reason: "malformed base64",
  },
  { url: "data:image/png", why: "data: no comma", expect: "unsafe_url", reason: "no comma" },
  {
    url: `data:image/png;base64,${PNG64}`,
    why: "data: over the decoded cap",
    policy: { maxDataBytes: 8 },
    expect: "unsafe_url",
    reason: "over the 8-byte limit",
  },
  {
    url: `data:image/png;base64,${PNG64}`,
    why: "data: not allowed (webhook policy)",
    policy: { allowData: false },
    expect: "unsafe_url",
    reason: "data: URLs are not allowed",
  },
  // Credentials
  {
    url: `https://user:${CORPUS_SECRET}@example.com/a.png`,
    why: "user and password",
    expect: "unsafe_url",
    reason: "credentials",
  },
  { url: "https://user@example.com/a.png", why: "user only", expect: "unsafe_url", reason: "credentials" },
  {
    url: `https://:${CORPUS_SECRET}@example.com/a.png`,
    why: "password only",
    expect: "unsafe_url",
    reason: "credentials",
  },
  {
    url: `https://example.com:${CORPUS_SECRET}@127.0.0.1/`,
    why: "host-looking user info before a loopback host",
    expect: "unsafe_url",
  },
  {
    url: `http://admin:${CORPUS_SECRET}@localhost:8787/`,
    why: "credentials with ALLOW_PRIVATE_URLS",
    policy: DEV,
    expect: "unsafe_url",
    reason: "credentials",
  },
  // Ports
  { url: "https://example.com:8443/a.png", why: "non-default port", expect: "unsafe_url", reason: "port 8443" },
  { url: "https://example.com:22/", why: "ssh port", expect: "unsafe_url", reason: "port 22" },
  { url: "https://example.com:80/", why: "port 80 when http is off", expect: "unsafe_url", reason: "port 80" },
  {
    url: "https://example.com:6379/",
    why: "redis port, other ports configured",
    policy: { allowedPorts: [8443] },
    expect: "unsafe_url",
    reason: "port 6379",
  },
  {
    url: "https://example.com:8787/",
    why: "any port only for private hosts in dev",
    policy: DEV,
    expect: "unsafe_url",
    reason: "port 8787",
  },
  ...ADDRESS_CASES,
  // Internal names
  { url: "https://localhost/", why: "localhost", expect: "unsafe_url", reason: "loopback host name localhost" },
  {
    url: "https://LOCALHOST./a.png",
    why: "localhost, upper case, trailing dot",
    expect: "unsafe_url",
    reason: "localhost",
  },
  { url: "https://api.localhost/", why: "*.localhost", expect: "unsafe_url", reason: "api.localhost" },
  { url: "https://printer.local/", why: "mDNS .local", expect: "unsafe_url", reason: ".local" },
  {
    url: "https://metadata.google.internal/computeMetadata/v1/",
    why: "GCP metadata",
    expect: "unsafe_url",
    reason: ".internal",
  },
  {
    url: "https://metadata/computeMetadata/v1/",
    why: "single-label name",
    expect: "unsafe_url",
    reason: "single-label",
  },
  { url: "https://intranet/", why: "single-label name", expect: "unsafe_url", reason: "single-label" },
  { url: "https://router.home.arpa/", why: "home.arpa", expect: "unsafe_url", reason: ".home.arpa" },
  { url: "https://nas.lan/", why: ".lan", expect: "unsafe_url", reason: ".lan" },
  { url: "https://.example.com/", why: "empty label", expect: "unsafe_url", reason: "empty label" },
  { url: "https://example.com../", why: "two trailing dots", expect: "unsafe_url", reason: "empty label" },
  // ALLOW_PRIVATE_URLS keeps every other rule
  {
    url: "https://169.254.169.254/latest/meta-data/",
    why: "metadata with ALLOW_PRIVATE_URLS",
    policy: DEV,
    expect: "unsafe_url",
    reason: "link-local",
  },
  {
    url: "http://[fe80::1]:8787/",
    why: "IPv6 link-local with ALLOW_PRIVATE_URLS",
    policy: DEV,
    expect: "unsafe_url",
    reason: "link-local",
  },
  {
    url: "http://0.0.0.0:8787/",
    why: "unspecified with ALLOW_PRIVATE_URLS",
    policy: DEV,
    expect: "unsafe_url",
    reason: "unspecified",
  },
  {
    url: "http://100.64.0.1:8787/",
    why: "CGNAT with ALLOW_PRIVATE_URLS",
    policy: DEV,
    expect: "unsafe_url",
    reason: "carrier-grade NAT",
  },
  {
    url: "http://224.0.0.251:5353/",
    why: "multicast with ALLOW_PRIVATE_URLS",
    policy: DEV,
    expect: "unsafe_url",
    reason: "multicast",
  },
  {
    url: "http://[::ffff:169.254.169.254]/",
    why: "mapped metadata with ALLOW_PRIVATE_URLS",
    policy: DEV,
    expect: "unsafe_url",
    reason: "link-local",
  },
  {
    url: "file:///etc/passwd",
    why: "file scheme with ALLOW_PRIVATE_URLS",
    policy: DEV,
    expect: "unsafe_url",
    reason: "scheme file:",
  },
  {
    url: "http://example.com/a.png",
    why: "http to a public host with ALLOW_PRIVATE_URLS only",
    policy: DEV,
    expect: "unsafe_url",
    reason: "scheme http:",
  },
  {
    url: "https://metadata.google.internal/",
    why: ".internal with ALLOW_PRIVATE_URLS",
    policy: DEV,
    expect: "unsafe_url",
    reason: ".internal",
  },
  {
    url: "http://comfyui:8188/",
    why: "single-label with ALLOW_PRIVATE_URLS",
    policy: DEV,
    expect: "unsafe_url",
    reason: "single-label",
  },
  // Allowlists
  {
    url: "https://evil.com/a.png",
    why: "host not on the allowlist",
    policy: { ...ALLOW_EXAMPLE, allowlistName: "this tenant's image_url_allowlist" },
    expect: "url_not_allowed",
    reason: "host evil.com is not on this tenant's image_url_allowlist",
  },
  {
    url: "https://example.com/a.png",
    why: "wildcard does not match the apex",
    policy: ALLOW_EXAMPLE,
    expect: "url_not_allowed",
    reason: "example.com",
  },
  {
    url: "https://evilexample.com/a.png",
    why: "suffix without a dot boundary",
    policy: ALLOW_EXAMPLE,
    expect: "url_not_allowed",
  },
  {
    url: "https://images.example.com.attacker.net/a.png",
    why: "allowed name as a prefix",
    policy: ALLOW_EXAMPLE,
    expect: "url_not_allowed",
  },
  {
    url: "https://example.com.evil.com/a.png",
    why: "exact entry as a prefix",
    policy: { hostAllowlist: ["example.com"] },
    expect: "url_not_allowed",
  },
  {
    url: "https://sub.images.example.com/a.png",
    why: "exact entry does not cover subdomains",
    policy: { hostAllowlist: ["images.example.com"] },
    expect: "url_not_allowed",
  },
  {
    url: "https://8.8.8.8/a.png",
    why: "IP literal vs a wildcard entry",
    policy: { hostAllowlist: ["*.8.8"] },
    expect: "url_not_allowed",
  },
  {
    url: "https://xn--bcher-kva.example/x.png",
    why: "IDN not on the list",
    policy: { hostAllowlist: ["buecher.example"] },
    expect: "url_not_allowed",
    reason: "xn--bcher-kva.example",
  },
  {
    url: "http://127.0.0.1:8787/a.png",
    why: "dev host still subject to the allowlist",
    policy: { ...DEV, ...ALLOW_EXAMPLE },
    expect: "url_not_allowed",
  },
  {
    url: "https://images.example.com/a.png",
    why: "invalid entries never widen the list",
    policy: { hostAllowlist: ["not a host!"] },
    expect: "url_not_allowed",
  },
  ...PARSER_DIFFERENTIALS,
];
