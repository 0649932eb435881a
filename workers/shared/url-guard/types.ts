/** Where a URL is used; decides which allowlist applies and whether data: URLs are accepted. */
export type UrlPurpose = "image" | "webhook";

/** The rules one URL is checked against. Build it with `policyFor`; tests may build it by hand. */
export interface UrlPolicy {
  /** http:// allowed (deployment opt-in, development only); port 80 is then allowed too. */
  allowHttp: boolean;
  /**
   * ALLOW_PRIVATE_URLS=true, local development only: loopback and RFC 1918 / ULA hosts (and `localhost`)
   * become reachable, over http too and on any port. Link-local/metadata, unspecified, multicast,
   * broadcast, CGNAT and reserved ranges stay forbidden, and every other rule still applies.
   */
  allowPrivate: boolean;
  /** data: URLs (images only). */
  allowData: boolean;
  /** Decoded size cap for data: URLs, in bytes. */
  maxDataBytes: number;
  /** Extra ports allowed besides 443 (and 80 when http is allowed). */
  allowedPorts: number[];
  /** Exact hosts and `*.example.com` wildcards; empty = any public host. */
  hostAllowlist: string[];
  /** Name of the list in error messages, e.g. "this tenant's image_url_allowlist". Optional. */
  allowlistName?: string;
}

export type ImageMimeType = "image/png" | "image/jpeg" | "image/webp" | "image/gif";

export type UrlRejectCode = "unsafe_url" | "url_not_allowed";

export interface HttpUrlCheck {
  ok: true;
  kind: "https" | "http";
  url: URL;
  /** Normalised host: punycode, lower case, no trailing dot; IPv6 literals keep their brackets. */
  host: string;
  /** Canonical text of the address when the host is an IP literal (no brackets), else null. */
  ip: string | null;
}

export interface DataUrlCheck {
  ok: true;
  kind: "data";
  url: null;
  mimeType: ImageMimeType;
  bytes: Uint8Array;
}

export interface UrlReject {
  ok: false;
  code: UrlRejectCode;
  /** Human sentence saying why; never echoes credentials. */
  reason: string;
}

export type UrlCheck = HttpUrlCheck | DataUrlCheck | UrlReject;

export type UrlGuardErrorCode =
  | UrlRejectCode
  | "too_large"
  | "timeout"
  | "bad_content_type"
  | "fetch_failed"
  | "too_many_redirects";

export interface GuardedFetchOptions {
  method?: string;
  headers?: HeadersInit;
  body?: string | Uint8Array;
  /** Cap on the (decoded) response body, in bytes. */
  maxBytes: number;
  /** Covers the whole exchange: every hop, headers and body. */
  timeoutMs: number;
  /** Default 3. */
  maxRedirects?: number;
  /**
   * "image": the final answer must be 2xx, declare image/(png|jpeg|webp|gif) and start with the magic
   * bytes of one of those. "any" (default): any status and type are returned to the caller.
   */
  expect?: "image" | "any";
  /** Injectable for tests. Defaults to the global fetch. */
  fetchImpl?: typeof fetch;
  signal?: AbortSignal;
}

export interface GuardedResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** The declared Content-Type header (data: URLs: their mime type), or null. */
  contentType: string | null;
  /** With expect "image" (and for data: URLs): the type found in the magic bytes. Else null. */
  sniffedType: ImageMimeType | null;
  finalUrl: string;
  redirects: number;
}
