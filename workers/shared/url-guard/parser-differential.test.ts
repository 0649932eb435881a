/**
 * The guard against a second parser: python-urlsplit.json records what Python's urllib.parse.urlsplit
 * (the splitting yarl/aiohttp and so vLLM follow when they fetch a chat image) makes of every corpus URL.
 * Wherever Python would connect to another host or port than the WHATWG parser names, checkUrl must
 * refuse the URL, whatever else the policy allows. Regenerate the recording with python-urlsplit.py.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { checkUrl } from "./check.ts";
import { ALLOWED, BASE_POLICY, type CorpusCase, HOSTILE } from "./corpus.ts";
import type { UrlPolicy } from "./types.ts";

const Recorded = z.union([
  z.object({ url: z.string(), error: z.string() }).strict(),
  z
    .object({
      url: z.string(),
      scheme: z.string(),
      netloc: z.string(),
      hostname: z.string().nullable(),
      port: z.union([z.int(), z.null(), z.literal("invalid")]),
    })
    .strict(),
]);
const Fixture = z.object({ python: z.string(), cases: z.array(Recorded) }).strict();

const fixture = Fixture.parse(JSON.parse(readFileSync(new URL("./python-urlsplit.json", import.meta.url), "utf8")));
const recorded = new Map(fixture.cases.map((c) => [c.url, c]));
const corpus: CorpusCase[] = [...HOSTILE, ...ALLOWED];

interface Target {
  host: string;
  port: number | "invalid";
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ws: 80, wss: 443, ftp: 21 };

/** Where the WHATWG parser would connect: host without brackets, port (default filled in); null for none. */
function whatwgTarget(input: string): Target | null {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return null;
  }
  if (url.hostname === "") return null;
  const scheme = url.protocol.slice(0, -1);
  const port = url.port === "" ? (DEFAULT_PORTS[scheme] ?? 0) : Number(url.port);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port };
}

/** Where Python would connect, per the recording. */
function pythonTarget(input: string): Target | null {
  const entry = recorded.get(input);
  if (entry === undefined) throw new Error(`not recorded: ${JSON.stringify(input)}; run python-urlsplit.py`);
  if ("error" in entry || entry.hostname === null || entry.hostname === "") return null;
  const port = entry.port ?? DEFAULT_PORTS[entry.scheme] ?? 0;
  return { host: entry.hostname, port };
}

function differs(input: string): boolean {
  const a = whatwgTarget(input);
  const b = pythonTarget(input);
  if (a === null || b === null) return a !== b;
  return a.host !== b.host || a.port !== b.port;
}

/** Everything the guard can be told to allow: http, private hosts, the URL's own port, any host. */
function permissive(input: string): UrlPolicy {
  const target = whatwgTarget(input);
  const ports = target !== null && target.port !== "invalid" ? [target.port] : [];
  return { ...BASE_POLICY, allowHttp: true, allowPrivate: true, allowedPorts: ports, hostAllowlist: [] };
}

const label = (c: CorpusCase) => JSON.stringify(c.url.length > 80 ? `${c.url.slice(0, 80)}...` : c.url);
const differential = corpus.filter((c) => differs(c.url));

describe("recorded Python urlsplit", () => {
  it("covers every corpus URL (regenerate with python-urlsplit.py when the corpus changes)", () => {
    const missing = corpus.map((c) => c.url).filter((url) => !recorded.has(url));
    expect(missing).toEqual([]);
    expect(fixture.python).toMatch(/^3\.\d+\.\d+$/);
  });

  it("finds the differentials of the issue among many", () => {
    const urls = differential.map((c) => c.url);
    expect(urls).toContain("https://good.com\\@127.0.0.1:11701/steal.png");
    expect(urls).toContain("https://images.example.com:443\\@169.254.169.254/latest/meta-data/");
    expect(pythonTarget("https://good.com\\@127.0.0.1:11701/steal.png")).toEqual({ host: "127.0.0.1", port: 11701 });
    expect(whatwgTarget("https://good.com\\@127.0.0.1:11701/steal.png")).toEqual({ host: "good.com", port: 443 });
    expect(differential.length).toBeGreaterThanOrEqual(30);
  });
});

describe("a URL Python reads as another host or port is refused", () => {
  it.each(differential.map((c) => [label(c), c] as const))("%s", (_name, c) => {
    const own = checkUrl(c.url, { ...BASE_POLICY, ...c.policy });
    expect(own.ok).toBe(false);
    const open = checkUrl(c.url, permissive(c.url));
    expect(open).toMatchObject({ ok: false, code: "unsafe_url" });
  });
});

describe("an accepted URL names the same host for both parsers", () => {
  const accepted = ALLOWED.filter((c) => whatwgTarget(c.url) !== null);
  it.each(accepted.map((c) => [label(c), c] as const))("%s", (_name, c) => {
    expect(checkUrl(c.url, { ...BASE_POLICY, ...c.policy }).ok).toBe(true);
    expect(pythonTarget(c.url)).toEqual(whatwgTarget(c.url));
  });
});
