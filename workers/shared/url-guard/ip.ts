import ipaddr from "ipaddr.js";

type Address = ipaddr.IPv4 | ipaddr.IPv6;

const V4_LABELS: Record<string, string> = {
  unspecified: "unspecified",
  broadcast: "broadcast",
  multicast: "multicast",
  linkLocal: "link-local",
  loopback: "loopback",
  carrierGradeNat: "carrier-grade NAT",
  private: "private",
  reserved: "reserved",
  as112: "reserved (AS112)",
  amt: "reserved (AMT)",
};

const V6_LABELS: Record<string, string> = {
  unspecified: "unspecified",
  linkLocal: "link-local",
  multicast: "multicast",
  loopback: "loopback",
  uniqueLocal: "unique local (private)",
  deprecatedSiteLocal: "site-local",
  discard: "discard-only",
  benchmarking: "benchmarking",
  amt: "reserved (AMT)",
  as112v6: "reserved (AS112)",
  deprecatedOrchid: "reserved (ORCHID)",
  orchid2: "reserved (ORCHIDv2)",
  droneRemoteIdProtocolEntityTags: "reserved (DRIP)",
  segmentRouting: "reserved (segment routing)",
  reserved: "reserved",
};

/** Ranges that ALLOW_PRIVATE_URLS opens (local development only). */
const PRIVATE_RANGES = new Set(["private", "loopback", "uniqueLocal"]);

/**
 * Parses any spelling ipaddr.js accepts (IPv4 dotted/octal/hex/long; IPv6 with optional brackets and
 * zone). IPv6 text goes through the WHATWG URL parser first, because ipaddr.js 2.x reads the
 * IPv4-compatible form `::a.b.c.d` as IPv4-mapped `::ffff:a.b.c.d`; a zone (`%eth0`) is dropped.
 */
export function parseIp(text: string): Address | null {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  try {
    if (!bare.includes(":")) return ipaddr.IPv4.parse(bare);
    const zone = bare.indexOf("%");
    const host = new URL(`http://[${zone < 0 ? bare : bare.slice(0, zone)}]/`).hostname;
    return ipaddr.IPv6.parse(host.slice(1, -1));
  } catch {
    return null;
  }
}

/** Canonical text of an address: dotted quad, or RFC 5952 for IPv6. */
export function canonicalIp(address: Address): string {
  return address.kind() === "ipv6" ? (address as ipaddr.IPv6).toRFC5952String() : address.toString();
}

function v4FromWords(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([(high >> 8) & 0xff, high & 0xff, (low >> 8) & 0xff, low & 0xff]);
}

function v4Reason(address: ipaddr.IPv4, allowPrivate: boolean): string | null {
  const range = address.range();
  if (range === "unicast") return null;
  if (allowPrivate && PRIVATE_RANGES.has(range)) return null;
  return `${V4_LABELS[range] ?? `reserved (${range})`} address ${address.toString()}`;
}

function embedded(outer: string, kind: string, inner: ipaddr.IPv4, allowPrivate: boolean): string | null {
  const reason = v4Reason(inner, allowPrivate);
  return reason === null ? null : `${kind} address ${outer} (embedding ${reason})`;
}

function v6Reason(address: ipaddr.IPv6, allowPrivate: boolean): string | null {
  const text = address.toRFC5952String();
  const p = address.parts;
  const part = (i: number): number => p[i] ?? 0;
  const range = address.range();
  switch (range) {
    case "ipv4Mapped":
      return embedded(text, "IPv4-mapped", v4FromWords(part(6), part(7)), allowPrivate);
    case "rfc6145":
      return embedded(text, "IPv4-translated", v4FromWords(part(6), part(7)), allowPrivate);
    case "rfc6052":
      // 64:ff9b::/96 embeds the IPv4 in its last 32 bits; 64:ff9b:1::/48 is a local-use (private) prefix.
      if (part(2) === 0 && part(3) === 0 && part(4) === 0 && part(5) === 0) {
        return embedded(text, "NAT64", v4FromWords(part(6), part(7)), allowPrivate);
      }
      return `local-use NAT64 address ${text}`;
    case "6to4":
      return embedded(text, "6to4", v4FromWords(part(1), part(2)), allowPrivate);
    case "teredo":
      // Server IPv4 in bits 32-63; client IPv4 in the last 32 bits, inverted.
      return (
        embedded(text, "Teredo", v4FromWords(part(2), part(3)), allowPrivate) ??
        embedded(text, "Teredo", v4FromWords(part(6) ^ 0xffff, part(7) ^ 0xffff), allowPrivate)
      );
    case "unicast":
      if (p.slice(0, 6).every((word) => word === 0)) return `IPv4-compatible (deprecated) address ${text}`;
      // Only 2000::/3 is allocated for global unicast; everything else is reserved by IANA.
      if ((part(0) & 0xe000) !== 0x2000) return `reserved address ${text}`;
      return null;
    default:
      if (allowPrivate && PRIVATE_RANGES.has(range)) return null;
      return `${V6_LABELS[range] ?? `reserved (${range})`} address ${text}`;
  }
}

/**
 * What makes an address forbidden, as a noun phrase ("private address 10.0.0.1"), or null when it is a
 * public unicast address (or a loopback / private one while `allowPrivate` is on). Accepts any
 * ipaddr.js-parsable spelling; unparsable input is forbidden. IPv6 forms that embed an IPv4 (mapped,
 * NAT64, 6to4, Teredo) are judged by the embedded IPv4.
 */
export function forbiddenAddressDescription(ip: string, allowPrivate: boolean): string | null {
  const address = parseIp(ip);
  if (address === null) return `"${ip}" (not an IP address)`;
  return address.kind() === "ipv4"
    ? v4Reason(address as ipaddr.IPv4, allowPrivate)
    : v6Reason(address as ipaddr.IPv6, allowPrivate);
}

/** Why an address must not be contacted ("private address 10.0.0.1 is not allowed"), or null. */
export function isForbiddenAddress(ip: string, allowPrivate: boolean): string | null {
  const description = forbiddenAddressDescription(ip, allowPrivate);
  return description === null ? null : `${description} is not allowed`;
}

/** True for loopback and private (RFC 1918 / ULA) addresses, also when embedded as IPv4-mapped. */
export function isLoopbackOrPrivate(ip: string): boolean {
  const address = parseIp(ip);
  if (address === null) return false;
  const v4 =
    address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()
      ? (address as ipaddr.IPv6).toIPv4Address()
      : address;
  return PRIVATE_RANGES.has(v4.range());
}
