import { describe, expect, it } from "vitest";
import { call } from "../../test/helpers.ts";
import { clientKey } from "./client-limit.ts";

describe("client key of the failed-auth limiter", () => {
  it("keys IPv6 on the /64, IPv4 (also mapped) on the address", () => {
    expect(clientKey("2001:db8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(clientKey("2001:0db8:0001:0002:ffff:eeee:dddd:cccc")).toBe("2001:db8:1:2::/64");
    expect(clientKey("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64");
    expect(clientKey("::ffff:198.51.100.7")).toBe("198.51.100.7");
    expect(clientKey("198.51.100.7")).toBe("198.51.100.7");
    expect(clientKey("unknown")).toBe("unknown");
  });

  it("answers 429 to bad admin tokens from one IPv6 /64, whatever address in it they come from", async () => {
    // A /64 of its own per run, so nothing else this run sends counts against it.
    const net = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}`;
    const statuses: number[] = [];
    for (let i = 1; i <= 32; i++) {
      const res = await call("/admin/v1/tenants", {
        token: "not-the-admin-token",
        headers: { "cf-connecting-ip": `${net}:${i.toString(16)}::${(i * 7).toString(16)}` },
      });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(30)).toEqual([429, 429]);
    // Another /64 is not affected.
    const other = await call("/admin/v1/tenants", {
      token: "not-the-admin-token",
      headers: { "cf-connecting-ip": `${net.replace(/:[0-9a-f]+$/, ":ffff")}::1` },
    });
    expect(other.status).toBe(401);
  });
});
