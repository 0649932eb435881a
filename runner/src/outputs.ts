/**
 * Outputs: each file ComfyUI listed in /history is fetched from /view and streamed into a presigned PUT
 * minted for it by the gateway (never buffered whole, unless it is converted), with retries and backoff.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { OutputRef } from "@comfy-edge/shared/contract/runner";
import type { ComfyClient } from "./comfy/client.ts";
import type { CollectedOutput } from "./comfy/history.ts";
import { ConversionError, convertedName, convertImage, type OutputFormat, wantsConversion } from "./convert.ts";
import { type GatewayClient, GatewayError, withRetry } from "./gateway.ts";
import { HttpError, readBody, send, sendBytes } from "./http.ts";
import type { Logger } from "./log.ts";

export class UploadError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "UploadError";
    this.retryable = retryable;
  }
}

/**
 * Upload URLs that came with the lease (LeaseGrant.uploads): each used once, in order; one that expires
 * within EXPIRY_MARGIN_MS is skipped. When none is left the runner mints one (a round trip to the gateway).
 */
export class PremintedUploads {
  private readonly targets: Array<{ key: string; upload_url: string; expires_at: string }>;
  private readonly now: () => number;

  constructor(targets: Array<{ key: string; upload_url: string; expires_at: string }> = [], now = Date.now) {
    this.targets = [...targets];
    this.now = now;
  }

  take(): { key: string; upload_url: string } | null {
    for (let t = this.targets.shift(); t; t = this.targets.shift()) {
      if (Date.parse(t.expires_at) - this.now() > EXPIRY_MARGIN_MS) return { key: t.key, upload_url: t.upload_url };
    }
    return null;
  }

  get left(): number {
    return this.targets.length;
  }
}

const EXPIRY_MARGIN_MS = 60_000;

export interface UploadContext {
  /** URLs minted with the lease, used before asking the gateway for more. */
  preminted?: PremintedUploads;
  gateway: GatewayClient;
  comfy: ComfyClient;
  leaseId: string;
  output: { format: OutputFormat; quality?: number } | null;
  log: Logger;
  signal: AbortSignal;
  /** Tries per output (first included). */
  attempts?: number;
  concurrency?: number;
  /** Largest output converted in memory. */
  maxConvertBytes?: number;
}

const PUT_TIMEOUT_MS = 10 * 60_000;
/** Outputs up to this size are read whole before the PUT; bigger ones are streamed from /view into it. */
const SMALL_BYTES = 4 * 1024 * 1024;

/** PUT to a presigned URL; the body is bytes, or a stream with its length. */
async function put(
  url: string,
  body: Uint8Array | Readable,
  length: number,
  contentType: string,
  signal: AbortSignal,
): Promise<void> {
  let status: number;
  let text: string;
  if (body instanceof Uint8Array) {
    const res = await sendBytes(
      { method: "PUT", url, headers: { "content-type": contentType }, body, signal, timeoutMs: PUT_TIMEOUT_MS },
      64 * 1024,
    );
    status = res.status;
    text = res.body.toString("utf8");
  } else {
    const res = await send({
      method: "PUT",
      url,
      headers: { "content-type": contentType, "content-length": String(length) },
      body,
      signal,
      timeoutMs: PUT_TIMEOUT_MS,
    });
    status = res.status;
    text = (await readBody(res, 64 * 1024, signal).catch(() => Buffer.alloc(0))).toString("utf8");
  }
  if (status >= 200 && status < 300) return;
  const retryable = status >= 500 || status === 408 || status === 429;
  const expired = status === 403;
  throw new UploadError(
    `storage answered the upload with ${status}${expired ? " (URL expired or refused)" : ""}: ${text.slice(0, 200)}`,
    retryable || expired,
  );
}

function isRetryable(err: unknown): boolean {
  if (err instanceof UploadError) return err.retryable;
  if (err instanceof GatewayError) return err.retryable;
  if (err instanceof HttpError) return err.kind !== "aborted" && err.kind !== "too_large";
  if (err instanceof ConversionError) return false;
  // ComfyUnavailableError and transient ComfyProtocolError (e.g. the file is not flushed yet) may pass.
  return err instanceof Error && (err.name === "ComfyUnavailableError" || err.name === "ComfyProtocolError");
}

async function uploadOne(item: CollectedOutput, ctx: UploadContext): Promise<OutputRef> {
  const convert = item.kind === "file" && ctx.output !== null && wantsConversion(item.content_type, ctx.output.format);
  let filename = item.filename;
  let contentType = item.content_type;
  if (convert && ctx.output) {
    filename = convertedName(item.filename, ctx.output.format);
    contentType = `image/${ctx.output.format}`;
  }
  let minted: { key: string; upload_url: string } | null = null;
  const mint = async (name: string, type: string) => {
    const ready = ctx.preminted?.take();
    if (ready) return ready;
    const res = await ctx.gateway.uploadUrl(
      ctx.leaseId,
      { filename: name, content_type: type, node_id: item.node_id },
      { signal: ctx.signal },
    );
    return { key: res.key, upload_url: res.upload_url };
  };
  return withRetry(
    async (attempt) => {
      if (item.kind === "text") {
        minted ??= await mint(filename, contentType);
        const bytes = Buffer.from(item.text, "utf8");
        await put(minted.upload_url, bytes, bytes.length, contentType, ctx.signal);
        return { key: minted.key, node_id: item.node_id, filename, content_type: contentType };
      }
      if (convert && ctx.output) {
        const source = await ctx.comfy.viewBytes(item, ctx.maxConvertBytes ?? 512 * 1024 * 1024, ctx.signal);
        const result = await convertImage(source.bytes, ctx.output.format, ctx.output.quality);
        if (!result.converted) {
          // Animated: keep the original bytes and type.
          filename = item.filename;
          contentType = item.content_type;
        }
        if (minted === null || attempt > 1) minted = await mint(filename, contentType);
        await put(minted.upload_url, result.bytes, result.bytes.length, contentType, ctx.signal);
        return { key: minted.key, node_id: item.node_id, filename, content_type: contentType };
      }
      // Small (most images): read whole, then PUT the bytes. Larger: streamed from /view into the PUT.
      let small: Buffer | null = null;
      try {
        small = (await ctx.comfy.viewBytes(item, SMALL_BYTES, ctx.signal)).bytes;
      } catch (err) {
        if (!(err instanceof HttpError && err.kind === "too_large")) throw err;
      }
      if (small !== null) {
        minted ??= await mint(filename, contentType);
        await put(minted.upload_url, small, small.length, contentType, ctx.signal);
        return { key: minted.key, node_id: item.node_id, filename, content_type: contentType };
      }
      const view = await ctx.comfy.view(item, ctx.signal);
      minted ??= await mint(filename, contentType);
      const length = Number(view.headers["content-length"]);
      if (Number.isSafeInteger(length) && length >= 0) {
        await put(minted.upload_url, view.body, length, contentType, ctx.signal);
      } else {
        // No length from /view: spool to a temporary file (still streamed), then PUT it with its size.
        const dir = await mkdtemp(join(tmpdir(), "comfy-edge-"));
        try {
          const path = join(dir, "output");
          await pipeline(view.body, createWriteStream(path), { signal: ctx.signal });
          const { size } = await stat(path);
          await put(minted.upload_url, createReadStream(path), size, contentType, ctx.signal);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
      return { key: minted.key, node_id: item.node_id, filename, content_type: contentType };
    },
    {
      attempts: ctx.attempts ?? 4,
      baseMs: 250,
      maxMs: 4_000,
      signal: ctx.signal,
      retryable: isRetryable,
      onRetry: (err, attempt, delay) => {
        // A 403 from storage means the URL expired: mint a fresh one on the next try.
        if (err instanceof UploadError && /403/.test(err.message)) minted = null;
        ctx.log.warn("output upload failed; retrying", {
          node_id: item.node_id,
          filename: item.filename,
          attempt,
          delay_ms: delay,
          error: err,
        });
      },
    },
  );
}

/** Uploads every output (a few at a time, in order of the result) and answers their references. */
export async function uploadOutputs(items: CollectedOutput[], ctx: UploadContext): Promise<OutputRef[]> {
  const results: OutputRef[] = new Array(items.length);
  if (items.length === 1) {
    results[0] = await uploadOne(items[0]!, ctx);
    return results;
  }
  // The first failure stops the other uploads.
  const failed = new AbortController();
  const inner: UploadContext = { ...ctx, signal: AbortSignal.any([ctx.signal, failed.signal]) };
  let next = 0;
  const worker = async () => {
    while (next < items.length && !inner.signal.aborted) {
      const index = next++;
      try {
        results[index] = await uploadOne(items[index]!, inner);
      } catch (err) {
        failed.abort(err);
        throw err;
      }
    }
  };
  const workers = Array.from({ length: Math.min(ctx.concurrency ?? 4, items.length) }, worker);
  const settled = await Promise.allSettled(workers);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (rejected) throw failed.signal.aborted ? failed.signal.reason : rejected.reason;
  return results;
}

/** SaveImageWebsocket images (collected from binary frames): each PUT to a presigned URL minted for it. */
export async function uploadWsImages(
  images: Array<{ node_id: string; bytes: Uint8Array; content_type: string }>,
  ctx: { gateway: GatewayClient; leaseId: string; signal: AbortSignal; preminted?: PremintedUploads },
): Promise<OutputRef[]> {
  const counts = new Map<string, number>();
  const refs: OutputRef[] = [];
  for (const img of images) {
    const n = (counts.get(img.node_id) ?? 0) + 1;
    counts.set(img.node_id, n);
    const ext = img.content_type === "image/jpeg" ? "jpg" : "png";
    // Like SaveImage's names (the node has no filename_prefix): short, and the node id keeps them apart.
    const filename = `ComfyUI_n${img.node_id.replace(/[^A-Za-z0-9_-]/g, "_")}_${String(n).padStart(5, "0")}_.${ext}`;
    const minted =
      ctx.preminted?.take() ??
      (await ctx.gateway.uploadUrl(
        ctx.leaseId,
        { filename, content_type: img.content_type, node_id: img.node_id },
        { signal: ctx.signal },
      ));
    const res = await sendBytes(
      {
        method: "PUT",
        url: minted.upload_url,
        headers: { "content-type": img.content_type },
        body: img.bytes,
        signal: ctx.signal,
        timeoutMs: 120_000,
      },
      64 * 1024,
    );
    if (res.status < 200 || res.status >= 300) {
      throw new UploadError(`storage answered the upload with ${res.status}`, res.status >= 500);
    }
    refs.push({ key: minted.key, node_id: img.node_id, filename, content_type: img.content_type });
  }
  return refs;
}
