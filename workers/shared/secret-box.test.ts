import { describe, expect, it } from "vitest";
import { isSealed, openSecret, resealSecret, SecretBoxError, sealSecret, secretBox } from "./secret-box.ts";

const K1 = "box-key-one-0123456789abcdef0123456789";
const K2 = "box-key-two-0123456789abcdef0123456789";
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

describe("secret box", () => {
  it("seals without the plaintext, each time differently, and opens it again", async () => {
    const box = await secretBox(K1);
    const a = await sealSecret(box, SECRET, "ten_a");
    const b = await sealSecret(box, SECRET, "ten_a");
    expect(a).toMatch(/^enc:v1:[0-9A-Za-z]{4}:/);
    expect(a).not.toContain("whsec_");
    expect(a).not.toContain(SECRET.slice(6, 20));
    expect(a).not.toBe(b);
    expect(isSealed(a)).toBe(true);
    expect(await openSecret(box, a, "ten_a")).toBe(SECRET);
  });

  it("reads values stored before encryption as plaintext", async () => {
    const box = await secretBox(K1);
    expect(isSealed(SECRET)).toBe(false);
    expect(await openSecret(box, SECRET, "ten_a")).toBe(SECRET);
  });

  it("does not open a value copied to another tenant, altered, or sealed with a key no longer in the ring", async () => {
    const box = await secretBox(K1);
    const sealed = await sealSecret(box, SECRET, "ten_a");
    await expect(openSecret(box, sealed, "ten_b")).rejects.toThrow(SecretBoxError);
    const flipped = sealed.slice(0, -2) + (sealed.endsWith("A") ? "BB" : "AA");
    await expect(openSecret(box, flipped, "ten_a")).rejects.toThrow(SecretBoxError);
    await expect(openSecret(await secretBox(K2), sealed, "ten_a")).rejects.toThrow(/not in WEBHOOK_SECRET_KEY/);
  });

  it("rotates: the old key kept as previous still opens, and reseal moves values to the new key", async () => {
    const old = await secretBox(K1);
    const ring = await secretBox(`${K2},${K1}`);
    const sealed = await sealSecret(old, SECRET, "ten_a");
    expect(await openSecret(ring, sealed, "ten_a")).toBe(SECRET);
    const moved = await resealSecret(ring, sealed, "ten_a");
    expect(moved).not.toBe(sealed);
    expect(await openSecret(await secretBox(K2), moved, "ten_a")).toBe(SECRET);
    // Already under the current key: left as it is. Plaintext: sealed.
    expect(await resealSecret(ring, moved, "ten_a")).toBe(moved);
    const fromPlain = await resealSecret(ring, SECRET, "ten_a");
    expect(isSealed(fromPlain)).toBe(true);
    expect(await openSecret(ring, fromPlain, "ten_a")).toBe(SECRET);
  });

  it("refuses to work without a key", async () => {
    await expect(secretBox(undefined)).rejects.toThrow(/WEBHOOK_SECRET_KEY is not set/);
    await expect(secretBox(" ")).rejects.toThrow(/WEBHOOK_SECRET_KEY is not set/);
  });
});
