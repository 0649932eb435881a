/**
 * Output uploads against small local servers standing in for ComfyUI's /view, the gateway's upload-URL
 * endpoint and presigned storage: small files read whole, large ones streamed with their length, bodies
 * without a length spooled, retries after storage errors, a fresh URL after a 403, conversion with sharp.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ComfyClient } from "./comfy/client.ts";
import type { CollectedOutput } from "./comfy/history.ts";
import { GatewayClient } from "./gateway.ts";
import { silentLogger } from "./log.ts";
import { PremintedUploads, uploadOutputs } from "./outputs.ts";

interface Stored {
  key: string;
  type: string | undefined;
  length: string | undefined;
  chunked: boolean;
  bytes: Buffer;
}

const files = new Map<string, { bytes: Buffer; withLength: boolean }>();
const stored: Stored[] = [];
const minted: string[] = [];
/** Status codes storage answers to the next PUTs (then 200). */
const storageFaults: number[] = [];
let base = "";
let server: http.Server;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/view") {
      const file = files.get(url.searchParams.get("filename") ?? "");
      if (!file) return void res.writeHead(404).end();
      res.writeHead(
        200,
        file.withLength
          ? { "content-type": "image/png", "content-length": file.bytes.length }
          : {
              "content-type": "image/png",
            },
      );
      // Written in pieces, as a large file would be.
      for (let i = 0; i < file.bytes.length; i += 256 * 1024) res.write(file.bytes.subarray(i, i + 256 * 1024));
      return void res.end();
    }
    if (url.pathname.endsWith("/uploads") && req.method === "POST") {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        const parsed = JSON.parse(body) as { filename: string };
        const key = `jobs/j/a1/${minted.length}-${parsed.filename}`;
        minted.push(key);
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify({ key, upload_url: `${base}/put/${key}`, expires_at: new Date().toISOString() }));
      });
      return;
    }
    if (url.pathname.startsWith("/put/") && req.method === "PUT") {
      const chunks: Buffer[] = [];
      req.on("data", (d: Buffer) => chunks.push(d));
      req.on("end", () => {
        const fault = storageFaults.shift();
        if (fault) return void res.writeHead(fault).end("<Error>nope</Error>");
        stored.push({
          key: url.pathname.slice(5),
          type: req.headers["content-type"],
          length: req.headers["content-length"],
          chunked: req.headers["transfer-encoding"] === "chunked",
          bytes: Buffer.concat(chunks),
        });
        res.writeHead(200).end();
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function ctx(output: { format: "png" | "jpeg" | "webp"; quality?: number } | null = null) {
  return {
    gateway: new GatewayClient({ baseUrl: base, token: "rt_test_token" }),
    comfy: new ComfyClient(base),
    leaseId: "lease1",
    output,
    log: silentLogger,
    signal: new AbortController().signal,
  };
}

function file(name: string, bytes: Buffer, withLength = true): CollectedOutput {
  files.set(name, { bytes, withLength });
  return { kind: "file", node_id: "9", filename: name, subfolder: "", type: "output", content_type: "image/png" };
}

describe("uploadOutputs", () => {
  it("uploads small, large (streamed) and length-less outputs byte for byte, plus text outputs", async () => {
    stored.length = 0;
    const small = randomBytes(10_000);
    const large = randomBytes(6 * 1024 * 1024);
    const unknown = randomBytes(5 * 1024 * 1024);
    const refs = await uploadOutputs(
      [
        file("a.png", small),
        file("b.png", large),
        file("c.png", unknown, false),
        {
          kind: "text",
          node_id: "7",
          filename: "7-1.txt",
          text: "a caption",
          content_type: "text/plain; charset=utf-8",
        },
      ],
      ctx(),
    );
    expect(refs.map((r) => [r.node_id, r.filename, r.content_type])).toEqual([
      ["9", "a.png", "image/png"],
      ["9", "b.png", "image/png"],
      ["9", "c.png", "image/png"],
      ["7", "7-1.txt", "text/plain; charset=utf-8"],
    ]);
    const byKey = new Map(stored.map((s) => [s.key, s]));
    expect(byKey.get(refs[0]!.key)!.bytes.equals(small)).toBe(true);
    const big = byKey.get(refs[1]!.key)!;
    expect(big.bytes.equals(large)).toBe(true);
    expect(big.length).toBe(String(large.length)); // streamed with its length, not chunked
    expect(big.chunked).toBe(false);
    const spooled = byKey.get(refs[2]!.key)!;
    expect(spooled.bytes.equals(unknown)).toBe(true);
    expect(spooled.length).toBe(String(unknown.length));
    expect(byKey.get(refs[3]!.key)!.bytes.toString()).toBe("a caption");
    expect(byKey.get(refs[3]!.key)!.type).toBe("text/plain; charset=utf-8");
  });

  it("retries storage errors with backoff and mints a fresh URL after a 403", async () => {
    stored.length = 0;
    const before = minted.length;
    storageFaults.push(503, 403);
    const bytes = randomBytes(1000);
    const [ref] = await uploadOutputs([file("d.png", bytes)], ctx());
    expect(stored).toHaveLength(1);
    expect(stored[0]!.bytes.equals(bytes)).toBe(true);
    expect(minted.length - before).toBe(2); // the first URL, and a fresh one after the 403
    expect(ref!.key).toBe(minted.at(-1));
  });

  it("gives up after the tries with a retryable error", async () => {
    storageFaults.push(500, 500, 500, 500);
    await expect(uploadOutputs([file("e.png", randomBytes(10))], ctx())).rejects.toMatchObject({
      name: "UploadError",
      retryable: true,
    });
    storageFaults.length = 0;
  });

  it("converts still images to the job's format", async () => {
    stored.length = 0;
    const sharp = (await import("sharp")).default;
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#3366cc" } })
      .png()
      .toBuffer();
    const [ref] = await uploadOutputs([file("f_00001_.png", png)], ctx({ format: "webp", quality: 70 }));
    expect(ref).toMatchObject({ filename: "f_00001_.webp", content_type: "image/webp" });
    const out = stored.find((s) => s.key === ref!.key)!;
    expect(out.type).toBe("image/webp");
    expect(out.bytes.subarray(0, 4).toString()).toBe("RIFF");
    expect(out.bytes.subarray(8, 12).toString()).toBe("WEBP");
  });

  it("uses the upload URLs that came with the lease before minting, skipping one about to expire", async () => {
    stored.length = 0;
    const before = minted.length;
    const soon = new Date(Date.now() + 10_000).toISOString();
    const later = new Date(Date.now() + 900_000).toISOString();
    const preminted = new PremintedUploads([
      { key: "jobs/j/a1/pre-0", upload_url: `${base}/put/jobs/j/a1/pre-0`, expires_at: soon },
      { key: "jobs/j/a1/pre-1", upload_url: `${base}/put/jobs/j/a1/pre-1`, expires_at: later },
    ]);
    const refs = await uploadOutputs([file("g.png", randomBytes(100)), file("h.png", randomBytes(100))], {
      ...ctx(),
      preminted,
      concurrency: 1,
    });
    // The first output took the URL still valid; the second had none left and minted one.
    expect(refs[0]!.key).toBe("jobs/j/a1/pre-1");
    expect(minted.length - before).toBe(1);
    expect(refs[1]!.key).toBe(minted.at(-1));
    expect(stored.map((s) => s.key).sort()).toEqual([refs[0]!.key, refs[1]!.key].sort());
    expect(preminted.left).toBe(0);
  });
});
