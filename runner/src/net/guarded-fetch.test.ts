import { type GuardedFetchOptions, UrlGuardError, type UrlPolicy } from "@comfy-edge/shared/url-guard";
import { ALLOWED, BASE_POLICY, type CorpusCase, HOSTILE } from "@comfy-edge/shared/url-guard/corpus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Resolver, type RunnerFetchOptions, runnerFetch } from "./guarded-fetch.ts";
import { nodeTransport, type PinnedRequest, type Transport } from "./node-transport.ts";
import { deferred, PNG_BYTES, type Route, startTestServer, type TestServer } from "./test-server.ts";

const PUBLIC_IP = "93.184.216.34";
const streamClosed = deferred();

const routes: Record<string, Route> = {
  "/ok.png": (_req, res) => res.writeHead(200, { "content-type": "image/png" }).end(PNG_BYTES),
  "/html-as-png": (_req, res) => res.writeHead(200, { "content-type": "image/png" }).end("<html></html>"),
  "/text": (_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("plain"),
  "/echo": (req, res, body) =>
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ method: req.method, headers: req.headers, body })),
  "/big-declared": (_req, res) => {
    res.writeHead(200, { "content-type": "image/png", "content-length": 5_000_000 });
    res.write(PNG_BYTES);
  },
  "/endless": (_req, res) => {
    res.writeHead(200, { "content-type": "image/png" });
    res.on("close", () => streamClosed.resolve());
    const chunk = Buffer.alloc(16 * 1024, 7);
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) {}
      if (!res.destroyed) res.once("drain", pump);
    };
    res.write(PNG_BYTES);
    pump();
  },
  "/hang": () => {},
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(routes);
  routes["/r/internal"] = (_req, res) =>
    res.writeHead(302, { location: `http://internal.public.test:${server.port}/ok.png` }).end();
  routes["/r/second-name"] = (_req, res) =>
    res.writeHead(302, { location: `http://second.public.test:${server.port}/ok.png` }).end();
  routes["/r/loopback-literal"] = (_req, res) =>
    res.writeHead(302, { location: `http://127.0.0.1:${server.port}/ok.png` }).end();
});
afterAll(() => server.close());

/** A resolver backed by a table, recording every question. */
function tableResolver(table: Record<string, string[]>, calls: string[] = []): Resolver {
  return async (hostname) => {
    calls.push(hostname);
    const answers = table[hostname];
    if (answers === undefined)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return answers.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
}

/** Dev-style policy that lets http on the test server's port through to names pinned to 127.0.0.1. */
function devPolicy(extra: Partial<UrlPolicy> = {}): UrlPolicy {
  return { ...BASE_POLICY, allowPrivate: true, allowHttp: true, allowedPorts: [server.port], ...extra };
}

/** Public-only policy for http on the test server's port (the transport is redirected in the test). */
function publicPolicy(): UrlPolicy {
  return { ...BASE_POLICY, allowHttp: true, allowedPorts: [server.port] };
}

const options = (extra: Partial<RunnerFetchOptions> = {}): RunnerFetchOptions => ({
  maxBytes: 1024 * 1024,
  timeoutMs: 5000,
  expect: "image",
  ...extra,
});

async function failure(promise: Promise<unknown>): Promise<UrlGuardError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(UrlGuardError);
    return error as UrlGuardError;
  }
  return expect.fail("expected a UrlGuardError");
}

/** A transport that records the pinned request and answers with a PNG, never touching the network. */
function fakeTransport(seen: PinnedRequest[]): Transport {
  return async (request) => {
    seen.push(request);
    return {
      status: 200,
      headers: new Headers({ "content-type": "image/png" }),
      body: new Blob([PNG_BYTES]).stream(),
    };
  };
}

const policyOf = (c: CorpusCase): UrlPolicy => ({ ...BASE_POLICY, ...c.policy });

describe("runnerFetch on the corpus", () => {
  it.each(HOSTILE.map((c) => [c.why, c] as const))(
    "refuses hostile %s before DNS or any connection",
    async (_why, c) => {
      const calls: string[] = [];
      const seen: PinnedRequest[] = [];
      const resolver = tableResolver(new Proxy({}, { get: () => [PUBLIC_IP] }), calls);
      const error = await failure(
        runnerFetch(c.url, policyOf(c), options({ resolver, transport: fakeTransport(seen) })),
      );
      expect(error.code).toBe(c.expect);
      expect(calls).toEqual([]);
      expect(seen).toEqual([]);
    },
  );

  it.each(ALLOWED.map((c) => [c.why, c] as const))(
    "accepts %s and connects to the checked address",
    async (_why, c) => {
      const calls: string[] = [];
      const seen: PinnedRequest[] = [];
      const loopbackNames = { localhost: ["127.0.0.1"], "webhooks.localhost": ["127.0.0.1"] };
      const resolver = tableResolver(
        new Proxy(loopbackNames, { get: (t, name: string) => t[name as keyof typeof t] ?? [PUBLIC_IP] }),
        calls,
      );
      const response = await runnerFetch(c.url, policyOf(c), options({ resolver, transport: fakeTransport(seen) }));
      if (c.url.toLowerCase().startsWith("data:")) {
        expect(response.sniffedType).not.toBeNull();
        expect(seen).toEqual([]);
        return;
      }
      expect(response.sniffedType).toBe("image/png");
      expect(seen).toHaveLength(1);
      const expected = c.ip ?? (c.host?.endsWith("localhost") ? "127.0.0.1" : PUBLIC_IP);
      expect(seen[0]?.address).toBe(expected);
      expect(seen[0]?.hostname).toBe(c.ip ?? c.host);
      expect(calls).toEqual(c.ip === null ? [c.host] : []);
    },
  );
});

describe("runnerFetch: DNS answers", () => {
  it.each([
    [["127.0.0.1"], "loopback address 127.0.0.1"],
    [[PUBLIC_IP, "10.0.0.1"], "private address 10.0.0.1"],
    [["10.0.0.1", PUBLIC_IP], "private address 10.0.0.1"],
    [["2606:4700::1111", "fd00::5"], "unique local"],
    [["::ffff:169.254.169.254"], "link-local address 169.254.169.254"],
    [["::1"], "loopback address ::1"],
    [["fe80::1%eth0"], "link-local"],
    [["0.0.0.0"], "unspecified"],
  ])("refuses a name resolving to %j", async (answers, reason) => {
    const error = await failure(
      runnerFetch(
        `http://evil.public.test:${server.port}/ok.png`,
        publicPolicy(),
        options({ resolver: tableResolver({ "evil.public.test": answers }) }),
      ),
    );
    expect(error.code).toBe("unsafe_url");
    expect(error.message).toMatch(/^host evil\.public\.test resolves to .*, which is not allowed$/);
    expect(error.message).toContain(reason);
    expect(server.requests.filter((r) => r.headers.host?.startsWith("evil."))).toEqual([]);
  });

  it("keeps link-local answers forbidden with ALLOW_PRIVATE_URLS", async () => {
    const resolver = tableResolver({ "meta.public.test": ["169.254.169.254"] });
    const error = await failure(
      runnerFetch(`http://meta.public.test:${server.port}/`, devPolicy(), options({ resolver })),
    );
    expect(error.code).toBe("unsafe_url");
  });

  it("reports resolution failures and empty answers as fetch_failed", async () => {
    const missing = await failure(
      runnerFetch("https://nowhere.public.test/a.png", BASE_POLICY, options({ resolver: tableResolver({}) })),
    );
    expect(missing).toMatchObject({
      code: "fetch_failed",
      message: "could not resolve nowhere.public.test (ENOTFOUND)",
    });
    const empty = await failure(
      runnerFetch(
        "https://empty.public.test/a.png",
        BASE_POLICY,
        options({ resolver: tableResolver({ "empty.public.test": [] }) }),
      ),
    );
    expect(empty.code).toBe("fetch_failed");
  });
});

describe("runnerFetch: pinning (real node:http against a local server)", () => {
  it("connects to exactly the checked address and keeps the name in Host", async () => {
    // pinned.public.test does not exist in DNS: the request can only arrive through the pinned address.
    const calls: string[] = [];
    const resolver = tableResolver({ "pinned.public.test": ["127.0.0.1"] }, calls);
    const response = await runnerFetch(
      `http://pinned.public.test:${server.port}/ok.png`,
      devPolicy(),
      options({ resolver }),
    );
    expect(Buffer.from(response.body)).toEqual(PNG_BYTES);
    expect(calls).toEqual(["pinned.public.test"]);
    const request = server.requests.at(-1);
    expect(request).toMatchObject({ path: "/ok.png", method: "GET" });
    expect(request?.headers.host).toBe(`pinned.public.test:${server.port}`);
    expect(request?.headers["accept-encoding"]).toBe("identity");
  });

  it("resolves once per hop: a rebinding resolver cannot move the checked connection", async () => {
    const calls: string[] = [];
    const rebinding: Resolver = async (hostname) => {
      calls.push(hostname);
      return [{ address: calls.length === 1 ? "127.0.0.1" : "169.254.169.254", family: 4 }];
    };
    const before = server.requests.length;
    const response = await runnerFetch(
      `http://rebind.public.test:${server.port}/ok.png`,
      devPolicy(),
      options({ resolver: rebinding }),
    );
    expect(response.status).toBe(200);
    expect(calls).toEqual(["rebind.public.test"]);
    expect(server.requests.slice(before).map((r) => r.headers.host)).toEqual([`rebind.public.test:${server.port}`]);
  });

  it("re-resolves and re-checks every redirect hop", async () => {
    const calls: string[] = [];
    const resolver = tableResolver({ "first.public.test": ["127.0.0.1"], "second.public.test": ["127.0.0.1"] }, calls);
    const response = await runnerFetch(
      `http://first.public.test:${server.port}/r/second-name`,
      devPolicy(),
      options({ resolver }),
    );
    expect(response).toMatchObject({ redirects: 1, finalUrl: `http://second.public.test:${server.port}/ok.png` });
    expect(calls).toEqual(["first.public.test", "second.public.test"]);
  });

  it("refuses a redirect to a name that resolves to a private address", async () => {
    // The first hop is public (checked address 93.184.216.34); the test transport delivers it to the local
    // server through the real node transport, which then redirects to internal.public.test -> 10.0.0.5.
    const calls: string[] = [];
    const checked: string[] = [];
    const resolver = tableResolver({ "img.public.test": [PUBLIC_IP], "internal.public.test": ["10.0.0.5"] }, calls);
    const viaLocal: Transport = (request) => {
      checked.push(request.address);
      return nodeTransport({ ...request, address: "127.0.0.1", family: 4 });
    };
    const error = await failure(
      runnerFetch(
        `http://img.public.test:${server.port}/r/internal`,
        publicPolicy(),
        options({ resolver, transport: viaLocal }),
      ),
    );
    expect(error).toMatchObject({ code: "unsafe_url" });
    expect(error.message).toBe("host internal.public.test resolves to private address 10.0.0.5, which is not allowed");
    expect(calls).toEqual(["img.public.test", "internal.public.test"]);
    expect(checked).toEqual([PUBLIC_IP]);
  });

  it("refuses a redirect to a loopback literal without ALLOW_PRIVATE_URLS", async () => {
    const resolver = tableResolver({ "img.public.test": [PUBLIC_IP] });
    const viaLocal: Transport = (request) => nodeTransport({ ...request, address: "127.0.0.1", family: 4 });
    const error = await failure(
      runnerFetch(
        `http://img.public.test:${server.port}/r/loopback-literal`,
        publicPolicy(),
        options({ resolver, transport: viaLocal }),
      ),
    );
    expect(error.code).toBe("unsafe_url");
    expect(error.message).toContain("loopback address 127.0.0.1");
  });

  it("connects to IP literals without DNS", async () => {
    const calls: string[] = [];
    const response = await runnerFetch(
      `http://127.0.0.1:${server.port}/ok.png`,
      devPolicy(),
      options({ resolver: tableResolver({}, calls) }),
    );
    expect(response.status).toBe(200);
    expect(calls).toEqual([]);
  });

  it("sends method, headers and body, without following a caller-supplied Host", async () => {
    const resolver = tableResolver({ "post.public.test": ["127.0.0.1"] });
    const response = await runnerFetch(
      `http://post.public.test:${server.port}/echo`,
      devPolicy(),
      options({
        expect: "any",
        method: "POST",
        body: "héllo",
        headers: { "x-test": "1", host: "evil.example" },
        resolver,
      }),
    );
    const echo = JSON.parse(new TextDecoder().decode(response.body));
    expect(echo).toMatchObject({ method: "POST", body: "héllo" });
    expect(echo.headers).toMatchObject({
      "x-test": "1",
      host: `post.public.test:${server.port}`,
      "content-length": "6",
    });
  });
});

describe("runnerFetch: size, type and time limits", () => {
  const resolver = () => tableResolver(new Proxy({}, { get: () => ["127.0.0.1"] }));
  const url = (path: string) => `http://local.public.test:${server.port}${path}`;
  const run = (path: string, extra: Partial<GuardedFetchOptions> = {}) =>
    runnerFetch(url(path), devPolicy(), options({ resolver: resolver(), ...extra }));

  it("rejects early on Content-Length", async () => {
    const error = await failure(run("/big-declared", { maxBytes: 1000 }));
    expect(error).toMatchObject({ code: "too_large", message: "Content-Length 5000000 exceeds the 1000-byte limit" });
  });

  it("cancels an endless body past the cap and closes the connection", async () => {
    const error = await failure(run("/endless", { maxBytes: 100 * 1024 }));
    expect(error.code).toBe("too_large");
    await streamClosed.promise;
  });

  it("checks the declared type and the magic bytes", async () => {
    expect((await failure(run("/text"))).code).toBe("bad_content_type");
    expect((await failure(run("/html-as-png"))).code).toBe("bad_content_type");
    expect((await failure(run("/missing"))).message).toBe("image URL answered HTTP 404");
  });

  it("times out a server that never answers", async () => {
    const error = await failure(run("/hang", { timeoutMs: 150 }));
    expect(error).toMatchObject({ code: "timeout" });
  });

  it("reports a refused connection as fetch_failed", async () => {
    const error = await failure(
      runnerFetch("http://127.0.0.1:1/ok.png", devPolicy({ allowedPorts: [1] }), options({ resolver: resolver() })),
    );
    expect(error.code).toBe("fetch_failed");
    expect(error.message).toContain("ECONNREFUSED");
  });
});
