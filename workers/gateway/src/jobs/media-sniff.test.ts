import { describe, expect, it } from "vitest";
import { contentMismatch } from "./media-sniff.ts";

const bytes = (...parts: Array<string | number[]>) =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : p)));

const PNG = bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "rest");
const JPEG = bytes([0xff, 0xd8, 0xff, 0xe0], "JFIF");
const WEBP = bytes("RIFF", [0, 0, 0, 0], "WEBPVP8 ");
const WAV = bytes("RIFF", [0, 0, 0, 0], "WAVEfmt ");
const MP4 = bytes([0, 0, 0, 0x18], "ftypisom");
const WEBM = bytes([0x1a, 0x45, 0xdf, 0xa3], "rest");
const HTML = bytes("<!doctype html><script>alert(1)</script>");

describe("output content check", () => {
  it("accepts bytes that match the declared type (parameters and case ignored)", () => {
    expect(contentMismatch("image/png", PNG)).toBe(false);
    expect(contentMismatch("Image/PNG; charset=binary", PNG)).toBe(false);
    expect(contentMismatch("image/jpeg", JPEG)).toBe(false);
    expect(contentMismatch("image/jpg", JPEG)).toBe(false);
    expect(contentMismatch("image/webp", WEBP)).toBe(false);
    expect(contentMismatch("audio/wav", WAV)).toBe(false);
    expect(contentMismatch("video/mp4", MP4)).toBe(false);
    expect(contentMismatch("video/webm", WEBM)).toBe(false);
    expect(contentMismatch("image/gif", bytes("GIF89a"))).toBe(false);
    expect(contentMismatch("audio/flac", bytes("fLaC"))).toBe(false);
  });

  it("refuses bytes that do not match a type it knows", () => {
    expect(contentMismatch("image/png", HTML)).toBe(true);
    expect(contentMismatch("image/png", JPEG)).toBe(true);
    expect(contentMismatch("image/webp", WAV)).toBe(true);
    expect(contentMismatch("video/mp4", WEBM)).toBe(true);
    expect(contentMismatch("image/png", new Uint8Array())).toBe(true);
  });

  it("leaves types without a known signature alone (they are served as attachments)", () => {
    expect(contentMismatch("text/plain", HTML)).toBe(false);
    expect(contentMismatch("application/octet-stream", HTML)).toBe(false);
  });
});
