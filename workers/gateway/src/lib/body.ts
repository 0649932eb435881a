/**
 * Request body and query parsing with one set of rules: size limit (413), content type (415),
 * malformed JSON (400 invalid_json), schema failures (400 invalid_request, `param` = first bad field).
 */

import { ApiError } from "@comfy-edge/shared/errors";
import type { Context } from "hono";
import type { z } from "zod";
import { gatewayConfig } from "../config.ts";
import type { AppEnv } from "../types.ts";
import { parseWith, schemaError } from "./schema-error.ts";

export { parseWith, schemaError };

export interface ReadJsonOptions {
  /** Largest accepted body in bytes; defaults to the deployment's MAX_BODY_BYTES. */
  maxBytes?: number;
}

function describeBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

export function tooLarge(limit: number): ApiError {
  return new ApiError(413, "payload_too_large", `Request body is larger than the limit of ${describeBytes(limit)}.`, {
    details: { limit_bytes: limit },
  });
}

/** Reads the raw body, aborting as soon as it passes `limit` bytes. */
export async function readBodyBytes(c: Context<AppEnv>, limit: number): Promise<Uint8Array> {
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  const body = c.req.raw.body;
  if (!body) return new Uint8Array(0);
  // A declared length within the limit: HTTP framing guarantees exactly that many bytes, so read them at once.
  if (declared !== undefined && /^\d+$/.test(declared)) return new Uint8Array(await c.req.raw.arrayBuffer());
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const mime = value.split(";")[0]!.trim().toLowerCase();
  return mime === "application/json" || mime.endsWith("+json");
}

export async function readJsonValue(c: Context<AppEnv>, options: ReadJsonOptions = {}): Promise<unknown> {
  if (!isJsonContentType(c.req.header("content-type"))) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      "Send the request body as JSON with 'Content-Type: application/json'.",
    );
  }
  const limit = options.maxBytes ?? gatewayConfig(c.env).maxBodyBytes;
  const bytes = await readBodyBytes(c, limit);
  if (bytes.byteLength === 0) throw new ApiError(400, "invalid_json", "The request body is empty; send a JSON object.");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError(400, "invalid_json", "The request body is not valid UTF-8.");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : "parse error";
    throw new ApiError(400, "invalid_json", `The request body is not valid JSON: ${detail}.`);
  }
}

export async function readJson<S extends z.ZodType>(
  c: Context<AppEnv>,
  schema: S,
  options: ReadJsonOptions = {},
): Promise<z.output<S>> {
  return parseWith(schema, await readJsonValue(c, options));
}

export function readQuery<S extends z.ZodType>(c: Context<AppEnv>, schema: S): z.output<S> {
  return parseWith(schema, c.req.query());
}
