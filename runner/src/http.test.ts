import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { readBody, send, sendBytes, sendText } from "./http.ts";
import { HttpError } from "./http-error.ts";

const servers: http.Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

interface Seen {
  method: string;
  url: string;
  body: string;
  type: string | undefined;
  socket: Socket;
}

/** A real HTTP/1.1 server; `handler` answers (or not) each request once its body has arrived. */
async function server(handler: (seen: Seen, res: http.ServerResponse, count: number) => void) {
  const seen: Seen[] = [];
  const s = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const entry = {
        method: req.method ?? "",
        url: req.url ?? "",
        body,
        type: req.headers["content-type"],
        socket: req.socket,
      };
      seen.push(entry);
      handler(entry, res, seen.length);
    });
  });
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

async function failure(promise: Promise<unknown>): Promise<HttpError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpError);
  return err as HttpError;
}

describe("runner HTTP client (undici)", () => {
  it("sends headers and bodies, reads answers, and keeps the connection alive between exchanges", async () => {
    const s = await server((seen, res) => res.setHeader("x-echo", seen.body).end(`${seen.method} ${seen.url}`));
    const a = await sendText({ method: "GET", url: `${s.url}/a?x=1` });
    const b = await sendText({
      method: "POST",
      url: `${s.url}/b`,
      headers: { "content-type": "application/json" },
      body: '{"k":1}',
    });
    expect(a).toMatchObject({ status: 200, text: "GET /a?x=1" });
    expect(b).toMatchObject({ status: 200, text: "POST /b", headers: { "x-echo": '{"k":1}' } });
    expect(s.seen[1]!.type).toBe("application/json");
    for (let i = 0; i < 4; i++) await sendText({ method: "GET", url: `${s.url}/c` });
    // Six exchanges one after another: connections are kept and reused (undici may open a second one when
    // the next request is sent while the previous answer's connection is being handed back).
    expect(new Set(s.seen.map((r) => r.socket)).size).toBeLessThanOrEqual(2);
  });

  it("never sends a POST twice when its kept-alive connection drops before the answer", async () => {
    // The first exchange opens the connection; the server then drops it on the POST, as a server closing
    // an idle connection at that moment would. POST /prompt sent twice would queue the prompt twice.
    const s = await server((seen, res, n) => (n === 1 ? res.end("ok") : seen.socket.destroy()));
    await sendText({ method: "GET", url: `${s.url}/first` });
    const err = await failure(sendText({ method: "POST", url: `${s.url}/prompt`, body: "{}" }));
    expect(err.kind).toBe("network");
    expect(s.seen.map((r) => `${r.method} ${r.url}`)).toEqual(["GET /first", "POST /prompt"]);
  });

  it("sends an idempotent request (GET, PUT of bytes) once more on a new connection when one drops", async () => {
    const s = await server((seen, res, n) => (n === 2 || n === 5 ? seen.socket.destroy() : res.end(seen.body)));
    await sendText({ method: "GET", url: `${s.url}/first` });
    expect((await sendText({ method: "GET", url: `${s.url}/view` })).text).toBe("");
    await sendText({ method: "GET", url: `${s.url}/again` });
    const put = await sendText({ method: "PUT", url: `${s.url}/upload`, body: Buffer.from("bytes") });
    expect(put).toMatchObject({ status: 200, text: "bytes" });
    expect(s.seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /first",
      "GET /view",
      "GET /view",
      "GET /again",
      "PUT /upload",
      "PUT /upload",
    ]);
  });

  it("does not resend a PUT whose body is a stream (it cannot be replayed)", async () => {
    const s = await server((seen, res, n) => (n === 2 ? seen.socket.destroy() : res.end("ok")));
    await sendText({ method: "GET", url: `${s.url}/first` });
    const err = await failure(
      send({
        method: "PUT",
        url: `${s.url}/upload`,
        headers: { "content-length": "5" },
        body: Readable.from([Buffer.from("bytes")]),
      }),
    );
    expect(err.kind).toBe("network");
    expect(s.seen).toHaveLength(2);
  });

  it("sends multipart form data with files", async () => {
    const s = await server((seen, res) => res.end(seen.body));
    const form = new FormData();
    form.append("image", new Blob([Buffer.from("PNGDATA")], { type: "image/png" }), "a.png");
    form.append("type", "input");
    const res = await sendText({ method: "POST", url: `${s.url}/upload/image`, body: form });
    expect(s.seen[0]!.type).toMatch(/^multipart\/form-data; boundary=/);
    expect(res.text).toContain('name="image"; filename="a.png"');
    expect(res.text).toContain("Content-Type: image/png\r\n\r\nPNGDATA\r\n");
    expect(res.text).toContain('name="type"\r\n\r\ninput\r\n');
  });

  it("streams an answer with send and reads it with a size cap", async () => {
    const s = await server((_seen, res) => {
      res.write("a".repeat(1000));
      res.end("b".repeat(1000));
    });
    const res = await send({ method: "GET", url: `${s.url}/view` });
    expect((await readBody(res, 4096)).toString()).toBe("a".repeat(1000) + "b".repeat(1000));
    const capped = await send({ method: "GET", url: `${s.url}/view` });
    expect((await failure(readBody(capped, 1500))).kind).toBe("too_large");
  });

  it("fails with kinds: too_large (declared), timeout, aborted, refused", async () => {
    const s = await server((seen, res) => {
      if (seen.url === "/big") res.setHeader("content-length", "100").end("x".repeat(100));
      // /hang never answers.
    });
    expect((await failure(sendBytes({ method: "GET", url: `${s.url}/big` }, 10))).kind).toBe("too_large");
    expect((await failure(sendBytes({ method: "GET", url: `${s.url}/hang`, timeoutMs: 50 }))).kind).toBe("timeout");
    const abort = new AbortController();
    const pending = sendBytes({ method: "GET", url: `${s.url}/hang`, signal: abort.signal });
    await expect.poll(() => s.seen.filter((r) => r.url === "/hang").length).toBe(2);
    abort.abort();
    expect((await failure(pending)).kind).toBe("aborted");
    const stopping = new AbortController();
    stopping.abort(new HttpError("aborted", "the runner is stopping"));
    expect((await failure(sendText({ method: "GET", url: s.url, signal: stopping.signal }))).message).toBe(
      "the runner is stopping",
    );
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await failure(sendText({ method: "GET", url: `http://127.0.0.1:${port}/` }));
    expect(refused).toMatchObject({ kind: "network", refused: true });
  });
});
