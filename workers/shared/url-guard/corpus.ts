/**
 * The URL corpus: hostile URLs that must be refused and allowed ones that must pass, run against the
 * static check (checkUrl), the edge fetch and the runner's fetcher. Pure data, no I/O.
 */
import type { UrlPolicy } from "./types.ts";

export interface CorpusCase {
  url: string;
  /** What the case is about. */
  why: string;
  /** Overrides of BASE_POLICY. */
  policy?: Partial<UrlPolicy>;
  expect: "unsafe_url" | "url_not_allowed" | "ok";
  /** A fragment the rejection reason must contain (the rule it names). */
  reason?: string;
  /** For allowed http(s) cases: the normalised host and IP literal checkUrl must report. */
  host?: string;
  ip?: string | null;
}

/** Strict defaults: https only, data: images allowed (1 MB cap in the corpus), any public host. */
export const BASE_POLICY: UrlPolicy = {
  allowHttp: false,
  allowPrivate: false,
  allowData: true,
  maxDataBytes: 1024 * 1024,
  allowedPorts: [],
  hostAllowlist: [],
};

const DEV: Partial<UrlPolicy> = { allowPrivate: true };
const ALLOW_EXAMPLE: Partial<UrlPolicy> = { hostAllowlist: ["*.example.com"] };

/** A password used in credential cases; no rejection reason may contain it. */
export const CORPUS_SECRET = "hunter2";

function base64(bytes: readonly number[]): string {
  return btoa(String.fromCharCode(...bytes));
}

const PAD = [0, 0, 0, 0, 0, 0, 0, 0];
export const TINY_IMAGES = {
  png: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...PAD],
  jpeg: [0xff, 0xd8, 0xff, 0xe0, ...PAD],
  gif: [0x47, 0x49, 0x46, 0x38, 0x39, 0x61, ...PAD],
  webp: [0x52, 0x49, 0x46, 0x46, 0x10, 0, 0, 0, 0x57, 0x45, 0x42, 0x50, ...PAD],
} as const;

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
  // IPv4 loopback in every spelling
  { url: "https://127.0.0.1/", why: "loopback", expect: "unsafe_url", reason: "loopback address 127.0.0.1" },
  { url: "https://2130706433/", why: "loopback, decimal", expect: "unsafe_url", reason: "loopback address 127.0.0.1" },
  { url: "https://0177.0.0.1/", why: "loopback, octal", expect: "unsafe_url", reason: "loopback address 127.0.0.1" },
  { url: "https://0x7f.1/", why: "loopback, hex short", expect: "unsafe_url", reason: "loopback address 127.0.0.1" },
  { url: "https://0x7f000001/", why: "loopback, hex long", expect: "unsafe_url", reason: "loopback address 127.0.0.1" },
  { url: "https://127.1/", why: "loopback, short", expect: "unsafe_url", reason: "loopback address 127.0.0.1" },
  {
    url: "https://127.000.000.001/",
    why: "loopback, zero padded",
    expect: "unsafe_url",
    reason: "loopback address 127.0.0.1",
  },
  {
    url: "https://127.0.0.1./",
    why: "loopback, trailing dot",
    expect: "unsafe_url",
    reason: "loopback address 127.0.0.1",
  },
  {
    url: "https://%31%32%37.0.0.1/",
    why: "loopback, percent-encoded",
    expect: "unsafe_url",
    reason: "loopback address 127.0.0.1",
  },
  {
    url: "https://127\u30020\u30020\u30021/",
    why: "loopback, ideographic full stops",
    expect: "unsafe_url",
    reason: "loopback address 127.0.0.1",
  },
  {
    url: "https://\u2460\u2461\u2466.0.0.1/",
    why: "loopback, circled digits (NFKC)",
    expect: "unsafe_url",
    reason: "loopback address 127.0.0.1",
  },
  {
    url: "https:\\\\127.0.0.1\\a.png",
    why: "loopback, backslashes",
    expect: "unsafe_url",
    reason: "loopback address 127.0.0.1",
  },
  { url: "https://127.255.255.254/", why: "loopback, end of 127/8", expect: "unsafe_url", reason: "loopback" },
  // Other IPv4 ranges
  {
    url: "https://10.0.0.1/",
    why: "RFC 1918 10/8",
    expect: "unsafe_url",
    reason: "private address 10.0.0.1 is not allowed",
  },
  { url: "https://172.16.0.1/", why: "RFC 1918 172.16/12", expect: "unsafe_url", reason: "private address 172.16.0.1" },
  { url: "https://172.31.255.255/", why: "RFC 1918 172.16/12, end", expect: "unsafe_url", reason: "private address" },
  {
    url: "https://192.168.1.1/",
    why: "RFC 1918 192.168/16",
    expect: "unsafe_url",
    reason: "private address 192.168.1.1",
  },
  {
    url: "https://012.0.0.1/",
    why: "private, octal first octet",
    expect: "unsafe_url",
    reason: "private address 10.0.0.1",
  },
  { url: "https://100.64.0.1/", why: "CGNAT", expect: "unsafe_url", reason: "carrier-grade NAT" },
  { url: "https://100.127.255.254/", why: "CGNAT, end", expect: "unsafe_url", reason: "carrier-grade NAT" },
  {
    url: "https://169.254.169.254/latest/meta-data/",
    why: "cloud metadata",
    expect: "unsafe_url",
    reason: "link-local",
  },
  { url: "https://2852039166/", why: "cloud metadata, decimal", expect: "unsafe_url", reason: "169.254.169.254" },
  { url: "https://0.0.0.0/", why: "unspecified", expect: "unsafe_url", reason: "unspecified address 0.0.0.0" },
  { url: "https://0/", why: "unspecified, short", expect: "unsafe_url", reason: "unspecified" },
  { url: "https://0.1.2.3/", why: "this-network 0/8", expect: "unsafe_url", reason: "unspecified" },
  { url: "https://255.255.255.255/", why: "broadcast", expect: "unsafe_url", reason: "broadcast" },
  { url: "https://224.0.0.1/", why: "multicast", expect: "unsafe_url", reason: "multicast" },
  { url: "https://239.255.255.250/", why: "multicast (SSDP)", expect: "unsafe_url", reason: "multicast" },
  { url: "https://240.0.0.1/", why: "reserved class E", expect: "unsafe_url", reason: "reserved" },
  { url: "https://192.0.2.1/", why: "TEST-NET-1", expect: "unsafe_url", reason: "reserved" },
  { url: "https://198.18.0.1/", why: "benchmarking", expect: "unsafe_url", reason: "reserved" },
  {
    url: "https://192.0.0.170/",
    why: "IETF protocol assignments (NAT64 discovery)",
    expect: "unsafe_url",
    reason: "reserved",
  },
  // IPv6
  { url: "https://[::1]/", why: "IPv6 loopback", expect: "unsafe_url", reason: "loopback address ::1" },
  { url: "https://[0:0:0:0:0:0:0:1]/", why: "IPv6 loopback, long form", expect: "unsafe_url", reason: "loopback" },
  { url: "https://[::]/", why: "IPv6 unspecified", expect: "unsafe_url", reason: "unspecified" },
  {
    url: "https://[::ffff:127.0.0.1]/",
    why: "IPv4-mapped loopback, dotted",
    expect: "unsafe_url",
    reason: "(embedding loopback address 127.0.0.1",
  },
  {
    url: "https://[::ffff:7f00:1]/",
    why: "IPv4-mapped loopback, hex",
    expect: "unsafe_url",
    reason: "(embedding loopback address 127.0.0.1",
  },
  {
    url: "https://[0:0:0:0:0:ffff:127.0.0.1]/",
    why: "IPv4-mapped loopback, long form",
    expect: "unsafe_url",
    reason: "(embedding loopback",
  },
  {
    url: "https://[::ffff:169.254.169.254]/",
    why: "IPv4-mapped metadata",
    expect: "unsafe_url",
    reason: "(embedding link-local",
  },
  {
    url: "https://[::ffff:a00:1]/",
    why: "IPv4-mapped private",
    expect: "unsafe_url",
    reason: "(embedding private address 10.0.0.1",
  },
  {
    url: "https://[::ffff:0:7f00:1]/",
    why: "IPv4-translated loopback",
    expect: "unsafe_url",
    reason: "(embedding loopback",
  },
  { url: "https://[::127.0.0.1]/", why: "IPv4-compatible loopback", expect: "unsafe_url", reason: "IPv4-compatible" },
  { url: "https://[::a00:1]/", why: "IPv4-compatible private", expect: "unsafe_url", reason: "IPv4-compatible" },
  { url: "https://[fc00::1]/", why: "ULA fc00::/7", expect: "unsafe_url", reason: "unique local" },
  { url: "https://[fd12:3456:789a::1]/", why: "ULA fd00::/8", expect: "unsafe_url", reason: "unique local" },
  { url: "https://[fe80::1]/", why: "IPv6 link-local", expect: "unsafe_url", reason: "link-local" },
  {
    url: "https://[febf:ffff::1]/",
    why: "IPv6 link-local, end of fe80::/10",
    expect: "unsafe_url",
    reason: "link-local",
  },
  { url: "https://[fec0::1]/", why: "IPv6 site-local", expect: "unsafe_url", reason: "site-local" },
  { url: "https://[ff02::1]/", why: "IPv6 multicast", expect: "unsafe_url", reason: "multicast" },
  {
    url: "https://[2002:7f00:1::]/",
    why: "6to4 embedding loopback",
    expect: "unsafe_url",
    reason: "6to4 address 2002:7f00:1:: (embedding loopback",
  },
  {
    url: "https://[2002:a00:1::1]/",
    why: "6to4 embedding 10.0.0.1",
    expect: "unsafe_url",
    reason: "(embedding private address 10.0.0.1",
  },
  {
    url: "https://[2002:a9fe:a9fe::]/",
    why: "6to4 embedding metadata",
    expect: "unsafe_url",
    reason: "(embedding link-local",
  },
  {
    url: "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
    why: "Teredo, client 127.0.0.1",
    expect: "unsafe_url",
    reason: "Teredo",
  },
  { url: "https://[2001:0:a00:1::1]/", why: "Teredo, server 10.0.0.1", expect: "unsafe_url", reason: "Teredo" },
  { url: "https://[64:ff9b::127.0.0.1]/", why: "NAT64 embedding loopback", expect: "unsafe_url", reason: "NAT64" },
  {
    url: "https://[64:ff9b::a9fe:a9fe]/",
    why: "NAT64 embedding metadata",
    expect: "unsafe_url",
    reason: "(embedding link-local",
  },
  {
    url: "https://[64:ff9b:1::a00:1]/",
    why: "local-use NAT64 prefix",
    expect: "unsafe_url",
    reason: "local-use NAT64",
  },
  { url: "https://[2001:db8::1]/", why: "IPv6 documentation", expect: "unsafe_url", reason: "reserved" },
  { url: "https://[100::1]/", why: "IPv6 discard-only", expect: "unsafe_url", reason: "discard" },
  { url: "https://[4000::1]/", why: "IPv6 outside 2000::/3", expect: "unsafe_url", reason: "reserved" },
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
    url: "https://b\u00fccher.example/x.png",
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
];

export const ALLOWED: CorpusCase[] = [
  {
    url: "https://images.example.com/a.png",
    why: "wildcard match",
    policy: ALLOW_EXAMPLE,
    expect: "ok",
    host: "images.example.com",
    ip: null,
  },
  {
    url: "https://a.b.example.com/a.png",
    why: "wildcard match, deeper",
    policy: ALLOW_EXAMPLE,
    expect: "ok",
    host: "a.b.example.com",
    ip: null,
  },
  {
    url: "https://Images.Example.com./a.png",
    why: "case and trailing dot folded",
    policy: { hostAllowlist: ["images.example.com"] },
    expect: "ok",
    host: "images.example.com",
    ip: null,
  },
  {
    url: "https://images.example.com/a.png",
    why: "entry with trailing dot and capitals",
    policy: { hostAllowlist: ["Images.Example.COM."] },
    expect: "ok",
    host: "images.example.com",
    ip: null,
  },
  {
    url: "https://b\u00fccher.example/x.png",
    why: "IDN vs punycode entry",
    policy: { hostAllowlist: ["xn--bcher-kva.example"] },
    expect: "ok",
    host: "xn--bcher-kva.example",
    ip: null,
  },
  {
    url: "https://xn--bcher-kva.example/x.png",
    why: "punycode vs IDN entry",
    policy: { hostAllowlist: ["b\u00fccher.example"] },
    expect: "ok",
    host: "xn--bcher-kva.example",
    ip: null,
  },
  {
    url: "https://cdn.b\u00fccher.example/x.png",
    why: "IDN wildcard entry",
    policy: { hostAllowlist: ["*.B\u00dcCHER.example"] },
    expect: "ok",
    host: "cdn.xn--bcher-kva.example",
    ip: null,
  },
  {
    url: "https://example.com/a.png",
    why: "empty allowlist = any public host",
    expect: "ok",
    host: "example.com",
    ip: null,
  },
  {
    url: "https://example.com:443/a.png?size=2#top",
    why: "explicit 443, query and fragment",
    expect: "ok",
    host: "example.com",
    ip: null,
  },
  { url: "https://8.8.8.8/x.png", why: "public IPv4 literal", expect: "ok", host: "8.8.8.8", ip: "8.8.8.8" },
  {
    url: "https://1.1.1.1./x.png",
    why: "public IPv4 literal, trailing dot",
    expect: "ok",
    host: "1.1.1.1",
    ip: "1.1.1.1",
  },
  {
    url: "https://134744072/x.png",
    why: "public IPv4, decimal spelling",
    expect: "ok",
    host: "8.8.8.8",
    ip: "8.8.8.8",
  },
  {
    url: "https://[2606:4700::1111]/a.png",
    why: "public IPv6 literal",
    expect: "ok",
    host: "[2606:4700::1111]",
    ip: "2606:4700::1111",
  },
  {
    url: "https://[::ffff:8.8.8.8]/a.png",
    why: "IPv4-mapped public",
    expect: "ok",
    host: "[::ffff:808:808]",
    ip: "::ffff:808:808",
  },
  {
    url: "https://[64:ff9b::8.8.8.8]/a.png",
    why: "NAT64 public",
    expect: "ok",
    host: "[64:ff9b::808:808]",
    ip: "64:ff9b::808:808",
  },
  {
    url: "https://[2002:808:808::1]/a.png",
    why: "6to4 public",
    expect: "ok",
    host: "[2002:808:808::1]",
    ip: "2002:808:808::1",
  },
  {
    url: "https://8.8.8.8/a.png",
    why: "IP literal on the allowlist",
    policy: { hostAllowlist: ["8.8.8.8"] },
    expect: "ok",
    host: "8.8.8.8",
    ip: "8.8.8.8",
  },
  {
    url: "https://[2606:4700::1111]/a.png",
    why: "IPv6 literal on the allowlist (no brackets)",
    policy: { hostAllowlist: ["2606:4700:0::1111"] },
    expect: "ok",
    host: "[2606:4700::1111]",
    ip: "2606:4700::1111",
  },
  {
    url: "https://example.com:8443/a.png",
    why: "configured extra port",
    policy: { allowedPorts: [8443] },
    expect: "ok",
    host: "example.com",
    ip: null,
  },
  {
    url: "http://example.com/a.png",
    why: "http when enabled",
    policy: { allowHttp: true },
    expect: "ok",
    host: "example.com",
    ip: null,
  },
  {
    url: "http://example.com:80/a.png",
    why: "http on explicit port 80",
    policy: { allowHttp: true },
    expect: "ok",
    host: "example.com",
    ip: null,
  },
  {
    url: "http://127.0.0.1:8787/a.png",
    why: "dev: loopback over http on any port",
    policy: DEV,
    expect: "ok",
    host: "127.0.0.1",
    ip: "127.0.0.1",
  },
  {
    url: "http://localhost:8188/view?filename=a.png",
    why: "dev: localhost",
    policy: DEV,
    expect: "ok",
    host: "localhost",
    ip: null,
  },
  {
    url: "http://webhooks.localhost:9000/hook",
    why: "dev: *.localhost",
    policy: DEV,
    expect: "ok",
    host: "webhooks.localhost",
    ip: null,
  },
  {
    url: "http://192.168.1.10:8188/a.png",
    why: "dev: RFC 1918",
    policy: DEV,
    expect: "ok",
    host: "192.168.1.10",
    ip: "192.168.1.10",
  },
  { url: "http://[::1]:8787/a.png", why: "dev: IPv6 loopback", policy: DEV, expect: "ok", host: "[::1]", ip: "::1" },
  { url: "http://[fd00::1]:8080/a.png", why: "dev: ULA", policy: DEV, expect: "ok", host: "[fd00::1]", ip: "fd00::1" },
  { url: `data:image/png;base64,${PNG64}`, why: "data: png", expect: "ok" },
  { url: `data:image/jpeg;base64,${JPEG64}`, why: "data: jpeg", expect: "ok" },
  { url: `data:image/jpg;base64,${JPEG64}`, why: "data: image/jpg alias", expect: "ok" },
  { url: `data:image/gif;base64,${base64(TINY_IMAGES.gif)}`, why: "data: gif", expect: "ok" },
  { url: `data:image/webp;base64,${base64(TINY_IMAGES.webp)}`, why: "data: webp", expect: "ok" },
  { url: `DATA:Image/PNG ; Base64,${PNG64}`, why: "data: case-insensitive, spaces", expect: "ok" },
  {
    url: `data:image/png,${TINY_IMAGES.png.map((b) => `%${b.toString(16).padStart(2, "0")}`).join("")}`,
    why: "data: percent-encoded",
    expect: "ok",
  },
];
