/**
 * A loopback proxy in front of the ComfyUI double that answers GET /object_info as a real ComfyUI 0.33 does
 * (all 886 classes, the double's live entries on top: its model and input file lists). The double executes the
 * classes it has no schema for as opaque nodes; with this, the runner's capability report lists them too, so
 * the gateway accepts an SD1.5 graph (EmptyLatentImage, CLIPTextEncode, VAEDecode) as it would on a real pool.
 * Everything else, websocket upgrades included, passes through unchanged.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { join } from "node:path";
import { ROOT } from "../harness/build.ts";

export interface Proxy {
  url: string;
  close(): Promise<void>;
}

export async function fullObjectInfoProxy(target: string): Promise<Proxy> {
  const full = JSON.parse(
    readFileSync(join(ROOT, "test/comfyui-double/fixtures/object_info_v0.33.json"), "utf8"),
  ) as Record<string, unknown>;
  const upstream = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").replace(/^\/api(?=\/)/, "");
    if (req.method === "GET" && path === "/object_info") {
      void fetch(`${target}/object_info`)
        .then((r) => r.json() as Promise<Record<string, unknown>>)
        .then((live) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ ...full, ...live }));
        })
        .catch(() => {
          res.writeHead(502);
          res.end();
        });
      return;
    }
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  server.on("upgrade", (req, socket, head) => {
    const up = net.connect(Number(upstream.port), upstream.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) up.write(head);
      socket.pipe(up).pipe(socket);
    });
    for (const s of [up, socket as net.Socket]) {
      sockets.add(s);
      s.on("error", () => s.destroy());
      s.on("close", () => sockets.delete(s));
    }
    const drop = () => {
      up.destroy();
      socket.destroy();
    };
    up.on("close", drop);
    socket.on("close", drop);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
