import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deferred,
  JPEG_BYTES,
  PNG_BYTES,
  type Route,
  startTestServer,
  type TestServer,
} from "../../../runner/src/net/test-server.ts";
import { BASE_POLICY, HOSTILE, TINY_IMAGES } from "./corpus.ts";
import { guardedFetch } from "./fetch.ts";
import { UrlGuardError } from "./guard-error.ts";
import type { GuardedFetchOptions, UrlPolicy } from "./types.ts";

const PUBLIC = "https://img.example.com";
const streamClosed = deferred();
const stalledClosed = deferred();

const image =
  (bytes: Buffer, type = "image/png"): Route =>
  (_req, res) =>
    res.writeHead(200, { "content-type": type, "content-length": bytes.length }).end(bytes);
const redirect =
  (location: string, status = 302): Route =>
  (_req, res) =>
    res.writeHead(status, { location }).end();

const routes: Record<string, Route> = {
  "/ok.png": image(PNG_BYTES),
  "/jpeg-labelled-png": image(JPEG_BYTES, "image/png"),
  "/html-as-png": image(Buffer.from("<!doctype html><h1>hi</h1>"), "image/png"),
  "/svg": image(Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'/>"), "image/svg+xml"),
  "/html": image(Buffer.from("<h1>hi</h1>"), "text/html; charset=utf-8"),
  "/no-type": (_req, res) => res.writeHead(200).end(PNG_BYTES),
  "/r/loopback": redirect("http://127.0.0.1/secret"),
  "/r/metadata": redirect("http://169.254.169.254/latest/meta-data"),
  "/r/v6-loopback": redirect("http://[::1]/"),
  "/r/downgrade": redirect("http://img.example.com/ok.png"),
  "/r/relative": redirect("/ok.png"),
  "/r/relative-dots": redirect("../ok.png?x=1"),
  "/r/data": redirect(`data:image/png;base64,${PNG_BYTES.toString("base64")}`),
  "/r/credentials": redirect("https://user:hunter2@img.example.com/ok.png"),
  "/r/other-host": redirect("https://evil.example.net/ok.png"),
  "/r/cross-origin-echo": redirect("https://other.example.com/echo", 307),
  "/r/same-origin-echo": redirect("/echo", 307),
  "/r/invalid": redirect("http://[::1"),
  "/r/301": redirect("/echo", 301),
  "/r/302": redirect("/echo", 302),
  "/r/303": redirect("/echo", 303),
  "/r/307": redirect("/echo", 307),
  "/r/308": redirect("/echo", 308),
  "/r/no-location": (_req, res) => res.writeHead(302).end(),
  "/chain/0": redirect("/ok.png"),
  "/chain/1": redirect("/chain/0"),
  "/chain/2": redirect("/chain/1"),
  "/chain/3": redirect("/chain/2"),
  "/chain/4": redirect("/chain/3"),
  "/echo": (req, res, body) =>
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        method: req.method,
        body,
        host: req.headers["x-original-host"],
        authorization: req.headers.authorization ?? null,
        contentType: req.headers["content-type"] ?? null,
      }),
    ),
  "/big-declared": (_req, res) => {
    res.writeHead(200, { "content-type": "image/png", "content-length": 10_000_000 });
    res.write(PNG_BYTES); // and never the rest: only an early check can answer before the timeout
  },
  "/endless": (_req, res) => {
    res.writeHead(200, { "content-type": "image/png" }); // chunked
    res.on("close", () => streamClosed.resolve());
    const chunk = Buffer.alloc(16 * 1024, 1);
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) {}
      if (!res.destroyed) res.once("drain", pump);
    };
    res.write(PNG_BYTES);
    pump();
  },
  "/sized-100": (_req, res) => {
    res.writeHead(200, { "content-type": "image/png" }); // chunked, 100 bytes in two chunks
    res.write(PNG_BYTES);
    res.end(Buffer.alloc(100 - PNG_BYTES.length));
  },
  "/hang": () => {},
  "/stall-body": (_req, res) => {
    res.on("close", () => stalledClosed.resolve());
    res.writeHead(200, { "content-type": "image/png" });
    res.write(PNG_BYTES);
  },
  "/not-found": (_req, res) => res.writeHead(404, { "content-type": "text/html" }).end("<h1>404</h1>"),
  "/webhook": (_req, res) => res.writeHead(204).end(),
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(routes);
});
afterAll(() => server.close());

/** fetchImpl that sends what the guard asked for to the local server, keeping the original host visible. */
function forward(calls: string[] = []): typeof fetch {
  return (input, init) => {
    const url = new URL(String(input));
    calls.push(url.href);
    const headers = new Headers(init?.headers);
    headers.set("x-original-host", url.host);
    return fetch(`${server.origin}${url.pathname}${url.search}`, { ...init, headers });
  };
}

const options = (extra: Partial<GuardedFetchOptions> = {}): GuardedFetchOptions => ({
  maxBytes: 1024 * 1024,
  timeoutMs: 5000,
  expect: "image",
  fetchImpl: forward(),
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

describe("guardedFetch: plain fetches", () => {
  it("fetches an image from an allowed host", async () => {
    const policy: UrlPolicy = { ...BASE_POLICY, hostAllowlist: ["*.example.com"] };
    const response = await guardedFetch(`${PUBLIC}/ok.png`, policy, options());
    expect(response).toMatchObject({
      status: 200,
      contentType: "image/png",
      sniffedType: "image/png",
      finalUrl: `${PUBLIC}/ok.png`,
      redirects: 0,
    });
    expect(Buffer.from(response.body)).toEqual(PNG_BYTES);
  });

  it("decodes data: URLs without any network call", async () => {
    const calls: string[] = [];
    const url = `data:image/png;base64,${PNG_BYTES.toString("base64")}`;
    const response = await guardedFetch(url, BASE_POLICY, options({ fetchImpl: forward(calls) }));
    expect(response).toMatchObject({ status: 200, contentType: "image/png", sniffedType: "image/png", redirects: 0 });
    expect(Buffer.from(response.body)).toEqual(PNG_BYTES);
    expect(calls).toEqual([]);
    expect((await failure(guardedFetch(url, BASE_POLICY, options({ maxBytes: 8 })))).code).toBe("too_large");
  });

  it.each(HOSTILE.map((c) => [c.why, c] as const))("refuses hostile %s before any request", async (_why, c) => {
    const calls: string[] = [];
    const error = await failure(
      guardedFetch(c.url, { ...BASE_POLICY, ...c.policy }, options({ fetchImpl: forward(calls) })),
    );
    expect(error.code).toBe(c.expect);
    expect(calls).toEqual([]);
  });

  it("reports connection failures as fetch_failed", async () => {
    const refused: typeof fetch = () => fetch("http://127.0.0.1:1/");
    const error = await failure(guardedFetch(`${PUBLIC}/ok.png`, BASE_POLICY, options({ fetchImpl: refused })));
    expect(error.code).toBe("fetch_failed");
  });
});

describe("guardedFetch: redirects", () => {
  const httpPolicy: UrlPolicy = { ...BASE_POLICY, allowHttp: true };

  it.each([
    ["/r/loopback", BASE_POLICY, "loopback address 127.0.0.1"],
    ["/r/downgrade", BASE_POLICY, "scheme http:"],
    ["/r/loopback", httpPolicy, "loopback address 127.0.0.1"],
    ["/r/metadata", httpPolicy, "link-local address 169.254.169.254"],
    ["/r/v6-loopback", httpPolicy, "loopback address ::1"],
    ["/r/credentials", BASE_POLICY, "credentials"],
    ["/r/data", BASE_POLICY, "redirect to a data: URL is not allowed"],
  ] as const)("refuses %s (%#)", async (path, policy, reason) => {
    const calls: string[] = [];
    const error = await failure(guardedFetch(`${PUBLIC}${path}`, policy, options({ fetchImpl: forward(calls) })));
    expect(error.code).toBe("unsafe_url");
    expect(error.message).toContain(reason);
    expect(error.message).not.toContain("hunter2");
    expect(calls).toHaveLength(1); // the hop that answered the redirect, nothing after it
  });

  it("applies the allowlist to every hop", async () => {
    const policy: UrlPolicy = {
      ...BASE_POLICY,
      hostAllowlist: ["img.example.com"],
      allowlistName: "this tenant's image_url_allowlist",
    };
    const error = await failure(guardedFetch(`${PUBLIC}/r/other-host`, policy, options()));
    expect(error.code).toBe("url_not_allowed");
    expect(error.message).toBe("redirect refused: host evil.example.net is not on this tenant's image_url_allowlist");
  });

  it("follows relative Locations to allowed paths", async () => {
    const response = await guardedFetch(`${PUBLIC}/r/relative`, BASE_POLICY, options());
    expect(response).toMatchObject({ status: 200, redirects: 1, finalUrl: `${PUBLIC}/ok.png` });
    const dots = await guardedFetch(`${PUBLIC}/r/relative-dots`, BASE_POLICY, options());
    expect(dots).toMatchObject({ redirects: 1, finalUrl: `${PUBLIC}/ok.png?x=1` });
  });

  it("follows at most 3 redirects by default", async () => {
    const calls: string[] = [];
    const three = await guardedFetch(`${PUBLIC}/chain/2`, BASE_POLICY, options({ fetchImpl: forward(calls) }));
    expect(three.redirects).toBe(3);
    expect(calls).toHaveLength(4);
    const error = await failure(guardedFetch(`${PUBLIC}/chain/3`, BASE_POLICY, options()));
    expect(error.code).toBe("too_many_redirects");
    const none = await failure(guardedFetch(`${PUBLIC}/r/relative`, BASE_POLICY, options({ maxRedirects: 0 })));
    expect(none.code).toBe("too_many_redirects");
    const five = await guardedFetch(`${PUBLIC}/chain/4`, BASE_POLICY, options({ maxRedirects: 5 }));
    expect(five.redirects).toBe(5);
  });

  it("returns a 3xx without Location as the answer", async () => {
    const response = await guardedFetch(`${PUBLIC}/r/no-location`, BASE_POLICY, options({ expect: "any" }));
    expect(response).toMatchObject({ status: 302, redirects: 0 });
  });

  it("reports an unparsable Location", async () => {
    const error = await failure(guardedFetch(`${PUBLIC}/r/invalid`, BASE_POLICY, options()));
    expect(error.code).toBe("fetch_failed");
  });

  it.each([
    ["/r/301", "GET", ""],
    ["/r/302", "GET", ""],
    ["/r/303", "GET", ""],
    ["/r/307", "POST", '{"a":1}'],
    ["/r/308", "POST", '{"a":1}'],
  ])("POST through %s arrives as %s", async (path, method, body) => {
    const response = await guardedFetch(
      `${PUBLIC}${path}`,
      BASE_POLICY,
      options({ expect: "any", method: "POST", body: '{"a":1}', headers: { "content-type": "application/json" } }),
    );
    const echo = JSON.parse(new TextDecoder().decode(response.body));
    expect(echo).toMatchObject({ method, body, contentType: method === "GET" ? null : "application/json" });
  });

  it("drops Authorization on cross-origin redirects only", async () => {
    const headers = { authorization: "Bearer s3cret" };
    const cross = await guardedFetch(`${PUBLIC}/r/cross-origin-echo`, BASE_POLICY, options({ expect: "any", headers }));
    expect(JSON.parse(new TextDecoder().decode(cross.body))).toMatchObject({
      host: "other.example.com",
      authorization: null,
    });
    const same = await guardedFetch(`${PUBLIC}/r/same-origin-echo`, BASE_POLICY, options({ expect: "any", headers }));
    expect(JSON.parse(new TextDecoder().decode(same.body))).toMatchObject({
      host: "img.example.com",
      authorization: "Bearer s3cret",
    });
  });
});

describe("guardedFetch: size, type and time limits", () => {
  it("rejects early when Content-Length exceeds the cap", async () => {
    const error = await failure(guardedFetch(`${PUBLIC}/big-declared`, BASE_POLICY, options({ maxBytes: 1000 })));
    expect(error.code).toBe("too_large");
    expect(error.message).toBe("Content-Length 10000000 exceeds the 1000-byte limit");
  });

  it("cancels an endless chunked body past the cap and closes the connection", async () => {
    const error = await failure(guardedFetch(`${PUBLIC}/endless`, BASE_POLICY, options({ maxBytes: 64 * 1024 })));
    expect(error.code).toBe("too_large");
    await streamClosed.promise; // the server saw the connection go away
  });

  it("accepts a body of exactly maxBytes and refuses one byte less of cap", async () => {
    const ok = await guardedFetch(`${PUBLIC}/sized-100`, BASE_POLICY, options({ maxBytes: 100 }));
    expect(ok.body.byteLength).toBe(100);
    const error = await failure(guardedFetch(`${PUBLIC}/sized-100`, BASE_POLICY, options({ maxBytes: 99 })));
    expect(error.code).toBe("too_large");
  });

  it.each([
    ["/svg", "declared content type image/svg+xml"],
    ["/html", "declared content type text/html"],
    ["/no-type", "declared content type none"],
    ["/html-as-png", "magic bytes"],
  ])("refuses %s as an image", async (path, message) => {
    const error = await failure(guardedFetch(`${PUBLIC}${path}`, BASE_POLICY, options()));
    expect(error.code).toBe("bad_content_type");
    expect(error.message).toContain(message);
  });

  it("accepts an image whose magic bytes are another allowed type, reporting the sniffed type", async () => {
    const response = await guardedFetch(`${PUBLIC}/jpeg-labelled-png`, BASE_POLICY, options());
    expect(response).toMatchObject({ contentType: "image/png", sniffedType: "image/jpeg" });
  });

  it("refuses a non-2xx answer for images but returns it for expect any", async () => {
    const error = await failure(guardedFetch(`${PUBLIC}/not-found`, BASE_POLICY, options()));
    expect(error).toMatchObject({ code: "fetch_failed", message: "image URL answered HTTP 404" });
    const any = await guardedFetch(`${PUBLIC}/not-found`, BASE_POLICY, options({ expect: "any" }));
    expect(any).toMatchObject({ status: 404, contentType: "text/html", sniffedType: null });
  });

  it("times out a server that never answers", async () => {
    const error = await failure(guardedFetch(`${PUBLIC}/hang`, BASE_POLICY, options({ timeoutMs: 150 })));
    expect(error).toMatchObject({ code: "timeout", message: "no complete answer within 150 ms" });
  });

  it("times out a body that stalls, never returning it truncated", async () => {
    const error = await failure(guardedFetch(`${PUBLIC}/stall-body`, BASE_POLICY, options({ timeoutMs: 150 })));
    expect(error.code).toBe("timeout");
    await stalledClosed.promise;
  });

  it("times out even when fetchImpl ignores the signal", async () => {
    const never: typeof fetch = () => new Promise(() => {});
    const error = await failure(
      guardedFetch(`${PUBLIC}/ok.png`, BASE_POLICY, options({ timeoutMs: 50, fetchImpl: never })),
    );
    expect(error.code).toBe("timeout");
  });

  it("stops when the caller aborts", async () => {
    const controller = new AbortController();
    const pending = guardedFetch(`${PUBLIC}/hang`, BASE_POLICY, options({ signal: controller.signal }));
    controller.abort(new Error("shutting down"));
    const error = await failure(pending);
    expect(error).toMatchObject({ code: "fetch_failed", message: "the request was aborted" });
  });

  it("posts webhooks (expect any) and returns the status", async () => {
    const response = await guardedFetch(
      "https://hooks.example.com/webhook",
      { ...BASE_POLICY, allowData: false },
      options({ expect: "any", method: "POST", body: new TextEncoder().encode("{}") }),
    );
    expect(response).toMatchObject({ status: 204, body: new Uint8Array(0) });
    expect(server.requests.at(-1)).toMatchObject({ method: "POST", path: "/webhook", body: "{}" });
  });
});

describe("tiny images used by the corpus", () => {
  it("are what the server helpers send", () => {
    expect(PNG_BYTES.subarray(0, 8)).toEqual(Buffer.from(TINY_IMAGES.png.slice(0, 8)));
  });
});
