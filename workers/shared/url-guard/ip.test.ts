import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkUrl } from "./check.ts";
import { BASE_POLICY } from "./corpus.ts";
import { isForbiddenAddress } from "./ip.ts";

describe("isForbiddenAddress", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.1", "loopback"],
    ["0x7f.1", "loopback"],
    ["2130706433", "loopback"],
    ["0177.0.0.1", "loopback"],
    ["10.0.0.5", "private"],
    ["172.16.3.4", "private"],
    ["192.168.0.1", "private"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["169.254.169.254", "link-local"],
    ["0.0.0.0", "unspecified"],
    ["255.255.255.255", "broadcast"],
    ["224.0.0.1", "multicast"],
    ["240.0.0.1", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["[::1]", "loopback"],
    ["::ffff:127.0.0.1", "loopback address 127.0.0.1"],
    ["::ffff:7f00:1", "loopback address 127.0.0.1"],
    ["fe80::1%eth0", "link-local"],
    ["fd00::1", "unique local"],
    ["ff02::1", "multicast"],
    ["2002:0a00:0001::", "private address 10.0.0.1"],
    ["2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback address 127.0.0.1"],
    ["64:ff9b::10.0.0.1", "private address 10.0.0.1"],
    ["64:ff9b:1::1", "local-use NAT64"],
    ["::10.0.0.1", "IPv4-compatible"],
    ["::8.8.8.8", "IPv4-compatible"],
    ["not-an-ip", "not an IP address"],
    ["", "not an IP address"],
  ])("forbids %s (%s)", (ip, fragment) => {
    const reason = isForbiddenAddress(ip, false);
    expect(reason).toContain(fragment);
    expect(reason).toMatch(/is not allowed$/);
  });

  it.each([
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
  ])("allows public %s", (ip) => {
    expect(isForbiddenAddress(ip, false)).toBeNull();
  });

  it("opens loopback and private ranges (only) with allowPrivate", () => {
    for (const ip of ["127.0.0.1", "10.0.0.5", "172.20.0.1", "192.168.1.1", "::1", "fd00::1", "::ffff:127.0.0.1"]) {
      expect(isForbiddenAddress(ip, true)).toBeNull();
    }
    for (const ip of [
      "169.254.169.254",
      "fe80::1",
      "0.0.0.0",
      "::",
      "224.0.0.1",
      "ff02::1",
      "255.255.255.255",
      "100.64.0.1",
      "240.0.0.1",
    ]) {
      expect(isForbiddenAddress(ip, true)).not.toBeNull();
    }
  });
});

const octets = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const hex = (a: number, b: number) => ((a << 8) | b).toString(16);

describe("properties", () => {
  it("IPv6 forms that embed an IPv4 get the IPv4's verdict", () => {
    fc.assert(
      fc.property(octets, ([a, b, c, d]) => {
        const v4 = `${a}.${b}.${c}.${d}`;
        const forbidden = isForbiddenAddress(v4, false) !== null;
        expect(isForbiddenAddress(`::ffff:${v4}`, false) !== null).toBe(forbidden);
        expect(isForbiddenAddress(`64:ff9b::${hex(a, b)}:${hex(c, d)}`, false) !== null).toBe(forbidden);
        expect(isForbiddenAddress(`2002:${hex(a, b)}:${hex(c, d)}::1`, false) !== null).toBe(forbidden);
      }),
      { numRuns: 500 },
    );
  });

  it("every other URL spelling of an IPv4 (decimal, hex, octal) is refused: the address's reason, else non-canonical", () => {
    fc.assert(
      fc.property(octets, ([a, b, c, d]) => {
        const value = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
        const dotted = `${a}.${b}.${c}.${d}`;
        const verdict = checkUrl(`https://${dotted}/x.png`, BASE_POLICY);
        const dottedForbidden = isForbiddenAddress(dotted, false) !== null;
        expect(verdict.ok).toBe(!dottedForbidden);
        for (const host of [
          String(value),
          `0x${value.toString(16)}`,
          `0${a.toString(8)}.${b}.${c}.${d}`,
          `${a}.${b}.${(c << 8) | d}`,
        ]) {
          const result = checkUrl(`https://${host}/x.png`, BASE_POLICY);
          if (result.ok) expect.fail(`${host} accepted`);
          if (!verdict.ok) expect(result.reason).toBe(verdict.reason);
          else expect(result.reason).toContain(`write the host as ${dotted}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
