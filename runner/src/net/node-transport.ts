import type { ClientRequest, IncomingMessage } from "node:http";
import type { LookupFunction } from "node:net";
import type { HopResponse } from "@comfy-edge/shared/url-guard";

// node:http(s) through getBuiltinModule, as in ../http.ts: an ESM import of node:http builds its ESM facade, which
// reads the module's lazy WebSocket/CloseEvent/MessageEvent exports and so loads all of undici (about 6 MB of
// an idle runner's memory). This module is loaded at start (model downloads), used only when one runs.
const http = process.getBuiltinModule("node:http");
const https = process.getBuiltinModule("node:https");

/** One request to an address that was resolved and checked; `hostname` is kept for Host and TLS SNI. */
export interface PinnedRequest {
  url: URL;
  /** Host name (or IP literal without brackets) for the Host header and TLS server name. */
  hostname: string;
  /** The checked address the socket must connect to. */
  address: string;
  family: 4 | 6;
  port: number;
  method: string;
  headers: Headers;
  body: string | Uint8Array | undefined;
  signal: AbortSignal;
}

/** Sends one pinned request and answers without following redirects. */
export type Transport = (request: PinnedRequest) => Promise<HopResponse>;

function toHeaders(raw: string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i] as string, raw[i + 1] as string);
    } catch {
      // A header value fetch would refuse (e.g. non-Latin-1) is dropped, as fetch would not expose it.
    }
  }
  return headers;
}

/** Adapts a node:http response to a web stream; cancelling it destroys the connection. */
function toWebStream(response: IncomingMessage, request: ClientRequest): ReadableStream<Uint8Array> {
  let settled = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        controller.error(error);
      };
      response.on("data", (chunk: Buffer) => {
        if (settled) return;
        controller.enqueue(new Uint8Array(chunk));
        if ((controller.desiredSize ?? 0) <= 0) response.pause();
      });
      response.on("end", () => {
        if (settled) return;
        settled = true;
        controller.close();
      });
      response.on("error", fail);
      response.on("close", () => {
        if (!response.complete) fail(new Error("connection closed before the body was complete"));
      });
    },
    pull() {
      response.resume();
    },
    cancel() {
      settled = true;
      response.destroy();
      request.destroy();
    },
  });
}

/**
 * node:http/https transport that connects to `request.address` only: the `lookup` option answers with
 * the checked address, so no second DNS query can switch it; the Host header and TLS SNI / certificate
 * check keep the host name. No agent (no pooled socket can be reused), no decompression (identity).
 */
export const nodeTransport: Transport = (request) => pinnedRequest(request, undefined);

/** nodeTransport trusting the given CA certificates (PEM) instead of the system ones, e.g. a test CA. */
export function nodeTransportWithCa(ca: string | Buffer): Transport {
  return (request) => pinnedRequest(request, ca);
}

function pinnedRequest(request: PinnedRequest, ca: string | Buffer | undefined): Promise<HopResponse> {
  return new Promise<HopResponse>((resolve, reject) => {
    const { address, family } = request;
    const lookup: LookupFunction = (_hostname, options, callback) => {
      if (options.all === true) callback(null, [{ address, family }]);
      else callback(null, address, family);
    };
    const headers: Record<string, string> = Object.fromEntries(request.headers);
    headers["accept-encoding"] = "identity";
    if (request.body !== undefined) headers["content-length"] = String(Buffer.byteLength(request.body));
    const client = request.url.protocol === "https:" ? https : http;
    const outgoing = client.request({
      protocol: request.url.protocol,
      host: request.hostname,
      port: request.port,
      path: `${request.url.pathname}${request.url.search}`,
      method: request.method,
      headers,
      agent: false,
      lookup,
      signal: request.signal,
      ...(ca === undefined ? {} : { ca }),
    });
    outgoing.on("response", (response) => {
      resolve({
        status: response.statusCode ?? 0,
        headers: toHeaders(response.rawHeaders),
        body: toWebStream(response, outgoing),
      });
    });
    outgoing.on("error", reject);
    outgoing.end(request.body);
  });
}
