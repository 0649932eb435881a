/**
 * Test-only HTTPS model server with its own CA (fixtures/ca.pem; the certificate names models.public.test,
 * other.public.test, localhost and 127.0.0.1). Serves byte buffers by path, honours `Range: bytes=N-`, can
 * drop the connection half-way through a file once, and records every request.
 */
import { readFileSync } from "node:fs";
import https from "node:https";
import { fileURLToPath } from "node:url";
import type { UrlPolicy } from "@comfy-edge/shared/url-guard";
import type { Resolver } from "../../runner/src/net/guarded-fetch.ts";
import { nodeTransportWithCa } from "../../runner/src/net/node-transport.ts";

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)));
export const TEST_CA = fixture("ca.pem");
export const testTransport = nodeTransportWithCa(TEST_CA);

export interface ModelServer {
  port: number;
  url(path: string, host?: string): string;
  files: Map<string, Buffer>;
  /** Paths whose next GET sends half the body and then drops the connection. */
  dropOnce: Set<string>;
  /** Paths served whole (200) whatever Range asks for, like a server without range support. */
  noRange: Set<string>;
  requests: Array<{ path: string; range: string | null; host: string | null }>;
  close(): Promise<void>;
}

export async function startModelServer(): Promise<ModelServer> {
  const files = new Map<string, Buffer>();
  const dropOnce = new Set<string>();
  const noRange = new Set<string>();
  const requests: ModelServer["requests"] = [];
  const server = https.createServer(
    { cert: fixture("server-cert.pem"), key: fixture("server-key.pem") },
    (req, res) => {
      const path = new URL(req.url ?? "/", "https://x").pathname;
      const range = req.headers.range ?? null;
      requests.push({ path, range, host: req.headers.host ?? null });
      const body = files.get(path);
      if (body === undefined) return void res.writeHead(404).end("not found");
      const match = noRange.has(path) ? null : /^bytes=(\d+)-$/.exec(range ?? "");
      const start = match ? Number(match[1]) : 0;
      if (start >= body.length && match) {
        return void res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
      }
      const slice = body.subarray(start);
      const headers: Record<string, string | number> = {
        "content-type": "application/octet-stream",
        "content-length": slice.length,
        "accept-ranges": "bytes",
      };
      if (match) headers["content-range"] = `bytes ${start}-${body.length - 1}/${body.length}`;
      res.writeHead(match ? 206 : 200, headers);
      if (dropOnce.delete(path)) {
        res.write(slice.subarray(0, Math.floor(slice.length / 2)), () => res.destroy());
        return;
      }
      res.end(slice);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    url: (path, host = "models.public.test") => `https://${host}:${address.port}${path}`,
    files,
    dropOnce,
    noRange,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Resolves the test names to 127.0.0.1 (as a DNS answer would), anything else fails. */
export const loopbackResolver: Resolver = async (hostname) => {
  if (hostname.endsWith(".public.test") || hostname === "localhost") return [{ address: "127.0.0.1", family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
};

/** The local stack's policy (ALLOW_PRIVATE_URLS=true) with the server's port allowed. */
export function devPolicy(port: number, extra: Partial<UrlPolicy> = {}): UrlPolicy {
  return {
    allowHttp: false,
    allowPrivate: true,
    allowData: false,
    maxDataBytes: 0,
    allowedPorts: [port],
    hostAllowlist: [],
    ...extra,
  };
}
