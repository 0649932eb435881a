/**
 * One model file download through the runner's guarded fetcher (runnerFetch: URL checks on every hop,
 * DNS pinned to the checked address). The fetcher checks the URL, redirects and the declared size; the
 * body is then streamed to `<dest>.part` (never held in memory), hashed on the way, and renamed onto
 * `dest` only when its size and SHA-256 match. An interrupted download keeps its `.part` file and the
 * next attempt asks for the rest with a Range request; a mismatch deletes it.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { UrlGuardError, type UrlPolicy } from "@comfy-edge/shared/url-guard";
import { type Resolver, runnerFetch } from "../net/guarded-fetch.ts";
import { nodeTransport, type Transport } from "../net/node-transport.ts";

export type ModelErrorCode =
  | "sha256_mismatch"
  | "size_mismatch"
  | "too_large"
  | "http_status"
  | "url_refused"
  | "fetch_failed"
  | "timeout";

export class ModelDownloadError extends Error {
  readonly code: ModelErrorCode;
  /** Worth another attempt (a dropped connection, a timeout, a 5xx); the `.part` file is kept then. */
  readonly retryable: boolean;
  constructor(code: ModelErrorCode, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.retryable = retryable;
  }
}

export interface DownloadNet {
  policy: UrlPolicy;
  resolver?: Resolver;
  transport?: Transport;
  /** Until the answer's headers (every hop). Default 30 s. */
  headersTimeoutMs?: number;
  /** Longest wait for the next body chunk. Default 60 s. */
  idleTimeoutMs?: number;
}

export interface DownloadSpec {
  url: string;
  dest: string;
  /** Expected SHA-256 (hex, lower case); null = accept any (the hash found is returned). */
  sha256: string | null;
  /** Expected size in bytes, if known. */
  size: number | null;
  /** Refuse bodies past this many bytes. */
  maxBytes: number;
  onProgress?: (bytes: number, total: number | null) => void;
  signal?: AbortSignal;
}

export interface DownloadResult {
  bytes: number;
  sha256: string;
  /** Bytes taken from an earlier interrupted attempt (0 = downloaded from the start). */
  resumedFrom: number;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** Wraps a transport: the final (non-redirect) answer's body is kept for the caller instead of buffered. */
function capturing(base: Transport, own: AbortController) {
  let body: ReadableStream<Uint8Array> | null = null;
  const transport: Transport = async (request) => {
    const relay = () => own.abort(request.signal.reason);
    request.signal.addEventListener("abort", relay, { once: true });
    try {
      const response = await base({ ...request, signal: own.signal });
      if (response.status >= 300 && response.status < 400 && response.headers.has("location")) return response;
      body = response.body;
      return { ...response, body: null };
    } finally {
      request.signal.removeEventListener("abort", relay);
    }
  };
  return { transport, take: () => body };
}

function fromGuard(error: UrlGuardError): ModelDownloadError {
  if (error.code === "unsafe_url" || error.code === "url_not_allowed" || error.code === "too_many_redirects")
    return new ModelDownloadError("url_refused", error.message, false, { cause: error });
  if (error.code === "too_large") return new ModelDownloadError("too_large", error.message, false, { cause: error });
  if (error.code === "timeout") return new ModelDownloadError("timeout", error.message, true, { cause: error });
  return new ModelDownloadError("fetch_failed", error.message, true, { cause: error });
}

/** Reads one chunk or fails after `idleMs` without data. */
async function readWithin(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  idleMs: number,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      reader.read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ModelDownloadError("timeout", `no data for ${idleMs} ms`, true)), idleMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a report or a job's error may say about a download failure: the downloader's own message, or for
 * anything else (a full disk, a permission) only its code: never a host path.
 */
export function describeFailure(error: unknown): { code: string; message: string } {
  if (error instanceof ModelDownloadError) return { code: error.code, message: error.message };
  const code = error !== null && typeof error === "object" && "code" in error ? String(error.code) : "error";
  return { code: "storage_failed", message: `the runner could not write the file (${code})` };
}

/** Downloads `spec.url` to `spec.dest` (resuming `<dest>.part`); throws ModelDownloadError. */
export async function downloadModel(spec: DownloadSpec, net: DownloadNet): Promise<DownloadResult> {
  const part = `${spec.dest}.part`;
  await mkdir(dirname(spec.dest), { recursive: true });
  let offset = await sizeOf(part);
  const limit = spec.size ?? spec.maxBytes;
  if (offset > limit) {
    await rm(part, { force: true });
    offset = 0;
  }
  const own = new AbortController();
  const onAbort = () => own.abort(spec.signal?.reason);
  spec.signal?.addEventListener("abort", onAbort, { once: true });
  const { transport, take } = capturing(net.transport ?? nodeTransport, own);
  let body: ReadableStream<Uint8Array> | null = null;
  try {
    let answer: Awaited<ReturnType<typeof runnerFetch>>;
    try {
      answer = await runnerFetch(spec.url, net.policy, {
        // The whole file's cap: a server that ignores Range answers 200 with all of it (started over below).
        maxBytes: limit,
        timeoutMs: net.headersTimeoutMs ?? 30_000,
        expect: "any",
        headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
        resolver: net.resolver,
        transport,
        signal: spec.signal,
      });
    } catch (error) {
      if (error instanceof UrlGuardError) throw fromGuard(error);
      throw error;
    }
    body = take();
    const ranged = answer.status === 206 && offset > 0 && contentRangeStart(answer.headers) === offset;
    if (answer.status === 416 && offset > 0) {
      // The .part file may already be complete (or wrong): start again without it.
      await rm(part, { force: true });
      throw new ModelDownloadError("fetch_failed", "the server refused the resume range; starting over", true);
    }
    if (answer.status !== 200 && !ranged) {
      throw new ModelDownloadError(
        "http_status",
        `model URL answered HTTP ${answer.status}`,
        answer.status >= 500 || answer.status === 429,
      );
    }
    if (!ranged) offset = 0;
    const hash = createHash("sha256");
    if (offset > 0) await hashFile(part, hash);
    const total = offset + (body === null ? 0 : await appendBody(body, part, offset, limit, hash, spec, net));
    body = null;
    if (spec.size !== null && total !== spec.size) {
      await rm(part, { force: true });
      throw new ModelDownloadError("size_mismatch", `got ${total} bytes, the manifest says ${spec.size}`, false);
    }
    const digest = hash.digest("hex");
    if (spec.sha256 !== null && digest !== spec.sha256) {
      await rm(part, { force: true });
      throw new ModelDownloadError(
        "sha256_mismatch",
        `SHA-256 ${digest} does not match the expected ${spec.sha256}`,
        false,
      );
    }
    await rename(part, spec.dest);
    return { bytes: total, sha256: digest, resumedFrom: offset };
  } finally {
    spec.signal?.removeEventListener("abort", onAbort);
    if (body !== null) await (body as ReadableStream<Uint8Array>).cancel().catch(() => undefined);
    own.abort();
  }
}

function contentRangeStart(headers: Headers): number | null {
  const match = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(headers.get("content-range")?.trim() ?? "");
  return match === null ? null : Number(match[1]);
}

const BATCH_BYTES = 1024 * 1024;

/** Streams the body onto the `.part` file from `offset`; returns the bytes written. Too many bytes delete it. */
async function appendBody(
  body: ReadableStream<Uint8Array>,
  part: string,
  offset: number,
  limit: number,
  hash: Hash,
  spec: DownloadSpec,
  net: DownloadNet,
): Promise<number> {
  const file = await open(part, offset > 0 ? "a" : "w");
  const reader = body.getReader();
  let written = 0;
  // Chunks (a TLS record each, about 16 KB) are written in batches of about 1 MiB: one write per chunk
  // cost more than the hashing.
  let batch: Uint8Array[] = [];
  let batched = 0;
  const flush = async () => {
    if (batched === 0) return;
    const out = batch;
    batch = [];
    batched = 0;
    await file.writev(out);
  };
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await readWithin(reader, net.idleTimeoutMs ?? 60_000);
      } catch (error) {
        if (error instanceof ModelDownloadError) throw error;
        throw new ModelDownloadError("fetch_failed", `download interrupted after ${offset + written} bytes`, true, {
          cause: error,
        });
      }
      if (chunk.done) {
        await flush();
        break;
      }
      if (offset + written + chunk.value.byteLength > limit) {
        await file.close();
        await rm(part, { force: true });
        throw new ModelDownloadError("too_large", `the file is larger than ${limit} bytes`, false);
      }
      hash.update(chunk.value);
      batch.push(chunk.value);
      batched += chunk.value.byteLength;
      if (batched >= BATCH_BYTES) await flush();
      written += chunk.value.byteLength;
      spec.onProgress?.(offset + written, spec.size);
    }
    spec.signal?.throwIfAborted();
    return written;
  } finally {
    await reader.cancel().catch(() => undefined);
    await file.close().catch(() => undefined);
  }
}
