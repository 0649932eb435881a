/**
 * Rules on the URL as the client wrote it, not only as the WHATWG parser reads it. Other parsers (Python's
 * `urllib.parse.urlsplit` and yarl/aiohttp, what vLLM fetches images with; curl; Go) split the authority
 * differently when it holds backslashes, whitespace, control characters, percent-escapes or `@`:
 * `https://good.com\@127.0.0.1/` is host good.com for WHATWG and 127.0.0.1 for Python. So a URL is only
 * accepted when its raw authority already is the canonical one, and only the canonical serialisation
 * (`URL.href`) is passed on. Pure functions, no I/O.
 */

/** C0 controls, DEL and every Unicode space, at either end. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the rule is about control characters
const SURROUNDING_SPACE = /^[\s\x00-\x1f\x7f]|[\s\x00-\x1f\x7f]$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the rule is about control characters
const CONTROL = /[\x00-\x1f\x7f]/;
/** Scheme, exactly two forward slashes, then the authority as RFC 3986 (and Python) delimit it. */
const AUTHORITY = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i;

/** Why the raw text has whitespace or control characters around it (any URL kind), or null. */
export function surroundingSpaceReason(input: string): string | null {
  if (!SURROUNDING_SPACE.test(input)) return null;
  return "the URL has leading or trailing whitespace; send it without (URLs are not trimmed)";
}

function codePoint(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Why an http(s) URL contains control characters anywhere (parsers drop or keep them differently), or null. */
export function controlCharacterReason(input: string): string | null {
  const m = CONTROL.exec(input);
  if (m === null) return null;
  return `the URL contains the control character ${codePoint(m[0])} at position ${m.index}; remove it or percent-encode it`;
}

/** What makes a raw authority differ from the canonical one, in words (never echoes it: it may hold a secret). */
function describe(raw: string): string {
  if (raw.includes("\\")) return "the host part of the URL contains a backslash";
  if (raw.includes("@")) return "the host part of the URL contains '@'";
  if (raw.includes("%")) return "the host part of the URL contains percent-escapes";
  if (/\s/.test(raw)) return "the host part of the URL contains whitespace";
  if (raw === "") return "the URL has more than two slashes before the host";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: non-ASCII test
  if (/[^\x00-\x7f]/.test(raw)) return "the host is not ASCII (internationalised names go in punycode)";
  return "the host is not written in canonical form";
}

/**
 * Why an http(s) URL's raw authority differs from its canonical serialisation (`url.host`), or null.
 * Accepted differences: letter case, and an explicit default port (`:443` on https, `:80` on http).
 */
export function authorityReason(input: string, url: URL): string | null {
  const canonical = url.host;
  const m = AUTHORITY.exec(input);
  if (m === null) {
    return `write the URL as ${url.protocol}//${canonical}/...: the scheme, two forward slashes, then the host`;
  }
  const raw = m[1]!;
  const lower = raw.toLowerCase();
  if (lower === canonical) return null;
  const defaultPort = url.protocol === "https:" ? "443" : "80";
  if (url.port === "" && lower === `${url.hostname}:${defaultPort}`) return null;
  return `${describe(raw)}, so URL parsers disagree on which host it names; write the host as ${canonical}`;
}
