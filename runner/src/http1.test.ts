import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { HttpError } from "./http-error.ts";
import { closeIdleConnections, request, tlsOptions } from "./http1.ts";

// A self-signed certificate for localhost / 127.0.0.1, for the TLS test only.
const FIXTURES = join(import.meta.dirname, "..", "test", "fixtures");

const servers: Array<{ close(cb: () => void): void }> = [];
afterEach(() => closeIdleConnections());
afterAll(async () => {
  for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
});

async function httpServer(handler: http.RequestListener): Promise<{ url: string; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer(handler);
  server.on("connection", (s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push({
    close: (cb) => {
      server.closeAllConnections();
      server.close(cb);
    },
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, sockets };
}

/** A raw TCP server answering each request with `answer` (bytes written as given). */
async function rawServer(answer: (socket: net.Socket, request: string) => void): Promise<string> {
  const server = net.createServer((socket) => {
    let buf = "";
    socket.on("data", (d) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.slice(0, end);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      const req = buf.slice(0, end + 4 + length);
      buf = buf.slice(end + 4 + length);
      answer(socket, req);
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push({ close: (cb) => server.close(cb) });
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

describe("lean HTTP/1.1 client", () => {
  it("sends headers and bodies and reads Content-Length answers over one kept-alive connection", async () => {
    const seen: Array<{ method: string; url: string; body: string; type: string | undefined; port: number }> = [];
    const s = await httpServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        seen.push({
          method: req.method!,
          url: req.url!,
          body,
          type: req.headers["content-type"],
          port: req.socket.remotePort!,
        });
        res.writeHead(201, { "content-type": "application/json", "x-multi": ["a", "b"] });
        res.end(JSON.stringify({ ok: true, got: body }));
      });
    });
    const a = await request({
      method: "POST",
      url: `${s.url}/x?y=1`,
      headers: { "content-type": "application/json" },
      body: '{"é":1}',
    });
    expect(a.status).toBe(201);
    expect(a.headers["content-type"]).toBe("application/json");
    expect(a.headers["x-multi"]).toBe("a, b");
    expect(JSON.parse(a.body.toString())).toEqual({ ok: true, got: '{"é":1}' });
    const b = await request({ method: "GET", url: `${s.url}/z` });
    expect(b.status).toBe(201);
    expect(seen.map((r) => [r.method, r.url, r.type])).toEqual([
      ["POST", "/x?y=1", "application/json"],
      ["GET", "/z", undefined],
    ]);
    expect(seen[0]!.port).toBe(seen[1]!.port); // same connection
    const bytes = await request({ method: "PUT", url: `${s.url}/b`, body: new Uint8Array([0, 255, 1]) });
    expect(bytes.status).toBe(201);
  });

  it("reads chunked answers, answers ended by close, and answers without a body", async () => {
    const s = await httpServer((req, res) => {
      if (req.url === "/chunked") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("hello ");
        setImmediate(() => {
          res.write(Buffer.alloc(70_000, 97));
          res.end("!");
        });
      } else if (req.url === "/empty") {
        res.writeHead(204).end();
      } else res.end("head");
    });
    const chunked = await request({ method: "GET", url: `${s.url}/chunked` });
    expect(chunked.headers["transfer-encoding"]).toBe("chunked");
    expect(chunked.body.length).toBe(6 + 70_000 + 1);
    expect(chunked.body.subarray(0, 6).toString()).toBe("hello ");
    expect((await request({ method: "GET", url: `${s.url}/empty` })).body.length).toBe(0);
    const head = await request({ method: "HEAD", url: `${s.url}/h` });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);

    const raw = await rawServer((socket) => {
      socket.write("HTTP/1.1 100 Continue\r\n\r\n");
      socket.end("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close");
    });
    const untilClose = await request({ method: "GET", url: `${raw}/` });
    expect(untilClose.status).toBe(200);
    expect(untilClose.body.toString()).toBe("until close");
  });

  it("retries once on a new connection when a kept-alive one was closed by the server", async () => {
    const s = await httpServer((_req, res) => res.end("ok"));
    expect((await request({ method: "GET", url: `${s.url}/1` })).body.toString()).toBe("ok");
    // The server drops its idle connections; the client's pooled one is now dead or dying.
    for (const socket of s.sockets) socket.destroy();
    expect((await request({ method: "POST", url: `${s.url}/2`, body: "x" })).body.toString()).toBe("ok");
  });

  it("resends a request that a kept-alive connection dropped before any answer", async () => {
    const perSocket = new Map<net.Socket, number>();
    let requests = 0;
    const raw = await rawServer((socket) => {
      requests += 1;
      const n = (perSocket.get(socket) ?? 0) + 1;
      perSocket.set(socket, n);
      if (n === 2)
        socket.destroy(); // the server closed it just as the request arrived
      else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    expect((await request({ method: "GET", url: `${raw}/1` })).body.toString()).toBe("ok");
    expect((await request({ method: "GET", url: `${raw}/2` })).body.toString()).toBe("ok");
    expect(requests).toBe(3);
    expect(perSocket.size).toBe(2);
  });

  it("does not resend a request whose answer had started", async () => {
    let calls = 0;
    const raw = await rawServer((socket) => {
      calls += 1;
      if (calls === 1) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      else socket.end("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart");
    });
    await request({ method: "GET", url: `${raw}/a` });
    const err = await request({ method: "POST", url: `${raw}/b`, body: "x" }).catch((e) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).kind).toBe("network");
    expect(calls).toBe(2);
  });

  it("fails with kinds: too_large, timeout, aborted, refused, protocol", async () => {
    const s = await httpServer((req, res) => {
      if (req.url === "/big") res.end(Buffer.alloc(2000));
      else if (req.url === "/chunky") {
        res.write(Buffer.alloc(600));
        res.end(Buffer.alloc(600));
      }
      // /slow: never answers
    });
    const big = await request({ method: "GET", url: `${s.url}/big`, maxBytes: 1000 }).catch((e) => e);
    expect(big).toMatchObject({ kind: "too_large" });
    const chunky = await request({ method: "GET", url: `${s.url}/chunky`, maxBytes: 1000 }).catch((e) => e);
    expect(chunky).toMatchObject({ kind: "too_large" });
    const slow = await request({ method: "GET", url: `${s.url}/slow`, timeoutMs: 50 }).catch((e) => e);
    expect(slow).toMatchObject({ kind: "timeout" });
    const controller = new AbortController();
    const aborted = request({ method: "GET", url: `${s.url}/slow`, signal: controller.signal }).catch((e) => e);
    controller.abort();
    expect(await aborted).toMatchObject({ kind: "aborted" });

    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const port = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(port));
      });
    });
    const refused = (await request({ method: "GET", url: `http://127.0.0.1:${closed}/` }).catch((e) => e)) as HttpError;
    expect(refused.kind).toBe("network");
    expect(refused.refused).toBe(true);

    const garbage = await rawServer((socket) => socket.end("SMTP ready\r\n\r\n"));
    expect(await request({ method: "GET", url: `${garbage}/` }).catch((e) => e)).toMatchObject({ kind: "protocol" });
    await expect(request({ method: "GET", url: "ftp://x/" })).rejects.toMatchObject({ kind: "protocol" });
    await expect(request({ method: "GET", url: `${s.url}/`, headers: { "x-bad": "a\r\nb" } })).rejects.toMatchObject({
      kind: "protocol",
    });
  });

  it("speaks TLS (certificate checked against the trusted CAs)", async () => {
    const cert = readFileSync(join(FIXTURES, "tls-cert.pem"));
    const server = https.createServer({ cert, key: readFileSync(join(FIXTURES, "tls-key.pem")) }, (_req, res) =>
      res.end("secure"),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push({
      close: (cb) => {
        server.closeAllConnections();
        server.close(cb);
      },
    });
    const url = `https://localhost:${(server.address() as net.AddressInfo).port}/`;
    const untrusted = await request({ method: "GET", url }).catch((e) => e);
    expect(untrusted).toMatchObject({ kind: "network" });
    tlsOptions.ca = cert;
    try {
      const res = await request({ method: "GET", url });
      expect(res.body.toString()).toBe("secure");
      expect((await request({ method: "GET", url })).body.toString()).toBe("secure");
    } finally {
      delete tlsOptions.ca;
    }
  });
});
