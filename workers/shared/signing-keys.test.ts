import { describe, expect, it } from "vitest";
import { ringSecrets, signingRing } from "./signing-keys.ts";
import { issueLegacyToken, issueToken, verifyTokenTag } from "./tokens.ts";

const OLD = "old-secret-0123456789abcdef0123456789";
const NEW = "new-secret-0123456789abcdef0123456789";

describe("signing key ring", () => {
  it("reads the current secret first and ignores blanks", () => {
    expect(ringSecrets(` ${NEW} , ${OLD} ,`)).toEqual([NEW, OLD]);
    expect(() => ringSecrets(" , ")).toThrow(/SIGNING_SECRET is empty/);
  });

  it("gives each secret its own stable key id", async () => {
    const a = await signingRing(`${NEW},${OLD}`);
    const b = await signingRing(OLD);
    expect(a.current.kid).toMatch(/^[0-9A-Za-z]{4}$/);
    expect(a.all.map((k) => k.kid)).toEqual([a.current.kid, b.current.kid]);
    expect(a.current.kid).not.toBe(b.current.kid);
  });

  it("issues tokens with the current secret's key id, verified while that secret is in the ring", async () => {
    const before = await issueToken("sk", OLD);
    expect(before.token).toMatch(/^ce_sk_[0-9A-Za-z]{34}$/);
    expect(before.token.endsWith((await signingRing(OLD)).current.kid)).toBe(true);
    // Rotation: the new secret first, the old one kept.
    expect(await verifyTokenTag("sk", before.token, `${NEW},${OLD}`)).toBe(true);
    const after = await issueToken("sk", `${NEW},${OLD}`);
    expect(after.token.endsWith((await signingRing(NEW)).current.kid)).toBe(true);
    expect(await verifyTokenTag("sk", after.token, `${NEW},${OLD}`)).toBe(true);
    // The old secret removed: what it signed is refused, what the new one signed still works.
    expect(await verifyTokenTag("sk", before.token, NEW)).toBe(false);
    expect(await verifyTokenTag("sk", after.token, NEW)).toBe(true);
    // A token of the new secret is not accepted by the old one alone.
    expect(await verifyTokenTag("sk", after.token, OLD)).toBe(false);
  });

  it("verifies tokens issued before key ids against every secret of the ring", async () => {
    const legacy = await issueLegacyToken("rt", (await signingRing(OLD)).current);
    expect(legacy.token).toMatch(/^ce_rt_[0-9A-Za-z]{30}$/);
    expect(await verifyTokenTag("rt", legacy.token, OLD)).toBe(true);
    expect(await verifyTokenTag("rt", legacy.token, `${NEW},${OLD}`)).toBe(true);
    expect(await verifyTokenTag("rt", legacy.token, NEW)).toBe(false);
    expect(await verifyTokenTag("sk", legacy.token, `${NEW},${OLD}`)).toBe(false);
  });

  it("refuses a token whose key id was swapped for another secret's", async () => {
    const { token } = await issueToken("sk", OLD);
    const newKid = (await signingRing(NEW)).current.kid;
    expect(await verifyTokenTag("sk", token.slice(0, -4) + newKid, `${NEW},${OLD}`)).toBe(false);
    expect(await verifyTokenTag("sk", token.slice(0, -4), `${NEW},${OLD}`)).toBe(true);
  });
});
