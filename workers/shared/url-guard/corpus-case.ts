/** The shape of a URL corpus case and the policies the corpus uses. Pure data. */
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

export const DEV: Partial<UrlPolicy> = { allowPrivate: true };
export const ALLOW_EXAMPLE: Partial<UrlPolicy> = { hostAllowlist: ["*.example.com"] };

/** A password used in credential cases; no rejection reason may contain it. */
export const CORPUS_SECRET = "hunter2";

export function base64(bytes: readonly number[]): string {
  return btoa(String.fromCharCode(...bytes));
}

const PAD = [0, 0, 0, 0, 0, 0, 0, 0];
/** The smallest byte strings each image type is recognised by (magic bytes, padded). */
export const TINY_IMAGES = {
  png: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...PAD],
  jpeg: [0xff, 0xd8, 0xff, 0xe0, ...PAD],
  gif: [0x47, 0x49, 0x46, 0x38, 0x39, 0x61, ...PAD],
  webp: [0x52, 0x49, 0x46, 0x46, 0x10, 0, 0, 0, 0x57, 0x45, 0x42, 0x50, ...PAD],
} as const;
