/**
 * Parser differentials: URLs that the WHATWG parser (workerd, Node) and other parsers (Python's urlsplit
 * and yarl/aiohttp, which vLLM fetches chat images with) split differently, and URLs they read alike.
 * python-urlsplit.json records what Python 3.11 makes of each (parser-differential.test.ts).
 * Also the DNS names that resolve to internal services wherever the fetch happens.
 */
import { ALLOW_EXAMPLE, type CorpusCase, DEV } from "./corpus-case.ts";

const BACKSLASH = "backslash";
const CANONICAL = "write the host as";

export const PARSER_DIFFERENTIALS: CorpusCase[] = [
  // Backslash: WHATWG ends the host at '\', Python and yarl at the next '/', taking the part after '@'.
  {
    url: "https://good.com\\@127.0.0.1:11701/steal.png",
    why: "backslash before '@' (WHATWG: good.com, Python: 127.0.0.1)",
    expect: "unsafe_url",
    reason: BACKSLASH,
  },
  {
    url: "https://images.example.com:443\\@169.254.169.254/latest/meta-data/",
    why: "backslash after an explicit port (Python: 169.254.169.254)",
    policy: ALLOW_EXAMPLE,
    expect: "unsafe_url",
    reason: BACKSLASH,
  },
  {
    url: "https://good.com\\.169.254.169.254.nip.io/a.png",
    why: "backslash inside the host",
    expect: "unsafe_url",
    reason: BACKSLASH,
  },
  {
    url: "http://127.0.0.1:8787\\@metadata.google.internal/",
    why: "backslash with ALLOW_PRIVATE_URLS (WHATWG: loopback, Python: metadata)",
    policy: DEV,
    expect: "unsafe_url",
    reason: BACKSLASH,
  },
  {
    url: "https:\\\\good.com\\a.png",
    why: "backslashes instead of the two slashes",
    expect: "unsafe_url",
    reason: "two forward slashes",
  },
  // Slashes after the scheme: WHATWG finds a host anyway, Python finds none.
  { url: "https:good.com/a.png", why: "no slashes after the scheme", expect: "unsafe_url", reason: "two forward" },
  { url: "https:/good.com/a.png", why: "one slash after the scheme", expect: "unsafe_url", reason: "two forward" },
  {
    url: "https:///good.com/a.png",
    why: "three slashes after the scheme",
    expect: "unsafe_url",
    reason: "more than two slashes",
  },
  // '@' and percent-escapes in the authority.
  { url: "https://@good.com/a.png", why: "empty user info", expect: "unsafe_url", reason: "contains '@'" },
  {
    url: "https://good.com%2f@127.0.0.1/",
    why: "percent-encoded slash before '@'",
    expect: "unsafe_url",
    reason: "credentials",
  },
  {
    url: "https://exa%6dple.com/a.png",
    why: "percent-escape in the host (WHATWG decodes it, Python does not)",
    expect: "unsafe_url",
    reason: "percent-escapes",
  },
  {
    url: "https://good.com\uff03@127.0.0.1/",
    why: "fullwidth number sign before '@' (NFKC '#')",
    expect: "unsafe_url",
    reason: "credentials",
  },
  // Whitespace and control characters: parsers strip or keep them differently.
  { url: " https://good.com/a.png", why: "leading space", expect: "unsafe_url", reason: "leading or trailing" },
  { url: "https://good.com/a.png ", why: "trailing space", expect: "unsafe_url", reason: "leading or trailing" },
  { url: "https://good.com/a.png\n", why: "trailing newline", expect: "unsafe_url", reason: "leading or trailing" },
  { url: "\u00a0https://good.com/a.png", why: "leading no-break space", expect: "unsafe_url", reason: "leading" },
  {
    url: "https://good.com\t@127.0.0.1/",
    why: "tab before '@' (both drop it: user info good.com)",
    expect: "unsafe_url",
    reason: "control character U+0009",
  },
  {
    url: "https://good.com/a\r\n.png",
    why: "CR LF in the path",
    expect: "unsafe_url",
    reason: "control character U+000D",
  },
  {
    url: "https://good.com\u3000/a.png",
    why: "ideographic space after the host",
    expect: "unsafe_url",
    reason: "not a valid absolute URL",
  },
  // Non-canonical spellings: WHATWG rewrites them, other parsers keep the raw text.
  {
    url: "https://b\u00fccher.example/x.png",
    why: "IDN host (send punycode)",
    expect: "unsafe_url",
    reason: "write the host as xn--bcher-kva.example",
  },
  { url: "https://\u24d6ood.com/a.png", why: "circled letter (NFKC g)", expect: "unsafe_url", reason: "not ASCII" },
  { url: "https://good.com:0443/a.png", why: "zero-padded port", expect: "unsafe_url", reason: CANONICAL },
  { url: "https://good.com:/a.png", why: "empty port", expect: "unsafe_url", reason: CANONICAL },
  { url: "https://1.1.1.1./x.png", why: "IPv4 with a trailing dot", expect: "unsafe_url", reason: "as 1.1.1.1" },
  { url: "https://134744072/x.png", why: "IPv4 as one decimal number", expect: "unsafe_url", reason: "as 8.8.8.8" },
  { url: "https://0x08.0x08.0x08.0x08/", why: "IPv4 in hex", expect: "unsafe_url", reason: "as 8.8.8.8" },
  {
    url: "https://[::ffff:8.8.8.8]/a.png",
    why: "IPv4-mapped IPv6, dotted",
    expect: "unsafe_url",
    reason: "as [::ffff:808:808]",
  },
  {
    url: "https://[64:ff9b::8.8.8.8]/a.png",
    why: "NAT64, dotted",
    expect: "unsafe_url",
    reason: "as [64:ff9b::808:808]",
  },
  {
    url: "https://[2606:4700:0::1111]/a.png",
    why: "IPv6 not compressed",
    expect: "unsafe_url",
    reason: "as [2606:4700::1111]",
  },
  // Names that resolve to internal services where the fetch happens (cloud, Kubernetes).
  {
    url: "https://metadata.goog/computeMetadata/v1/",
    why: "GCP metadata.goog",
    expect: "unsafe_url",
    reason: "metadata",
  },
  { url: "https://sub.metadata.goog/", why: "under metadata.goog", expect: "unsafe_url", reason: "metadata" },
  {
    url: "https://metadata.tencentyun.com/latest/meta-data/",
    why: "Tencent Cloud metadata",
    expect: "unsafe_url",
    reason: "metadata",
  },
  {
    url: "https://metadata.google.internal./computeMetadata/v1/",
    why: "GCP metadata, trailing dot",
    expect: "unsafe_url",
    reason: ".internal",
  },
  { url: "https://kubernetes.default.svc/api", why: "Kubernetes *.svc", expect: "unsafe_url", reason: ".svc" },
  {
    url: "https://vllm.default.svc.cluster.local/v1/models",
    why: "Kubernetes *.cluster.local",
    expect: "unsafe_url",
    reason: "internal host name",
  },
  {
    url: "https://images.example.com.localhost/a.png",
    why: "*.localhost ending a public-looking name",
    expect: "unsafe_url",
    reason: "loopback host name",
  },
];

/** Both parsers name the same host: accepted (and passed on in canonical form). */
export const PARSER_AGREEMENTS: CorpusCase[] = [
  {
    url: "HTTPS://GOOD.COM/a.png",
    why: "upper-case scheme and host",
    expect: "ok",
    host: "good.com",
    ip: null,
  },
  {
    url: "https://good.com#@127.0.0.1/",
    why: "'@' in the fragment",
    expect: "ok",
    host: "good.com",
    ip: null,
  },
  {
    url: "https://good.com?@127.0.0.1/",
    why: "'@' in the query",
    expect: "ok",
    host: "good.com",
    ip: null,
  },
  {
    url: "https://good.com/\\@127.0.0.1/a.png",
    why: "backslash in the path only",
    expect: "ok",
    host: "good.com",
    ip: null,
  },
  {
    url: "https://good.com/my image.png",
    why: "space in the path (passed on as %20)",
    expect: "ok",
    host: "good.com",
    ip: null,
  },
  {
    url: "https://good.com.:443/a.png",
    why: "trailing dot and explicit default port",
    expect: "ok",
    host: "good.com",
    ip: null,
  },
];
