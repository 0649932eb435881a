/**
 * One signed webhook POST under the URL guard (checked again at delivery; no redirects followed). The
 * answer's status decides: a 2xx body is never read (cancelled at once, whatever its size), an error
 * answer's first bytes are kept for the delivery log.
 */
import { type Hop, runGuardedExchange, UrlGuardError, type UrlPolicy } from "@comfy-edge/shared/url-guard";
import { edgeFetch } from "./edge-fetch.ts";

export const DELIVERY_TIMEOUT_MS = 10_000;
/** Bytes of an error answer kept for the delivery log. */
export const ERROR_PREVIEW_BYTES = 200;

export type PostResult =
  | { kind: "answer"; status: number; preview: string; ms: number }
  | { kind: "error"; error: UrlGuardError; ms: number };

/** Reads at most `maxBytes` of a body, then cancels the rest (closing the connection). */
async function readPreview(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const out = new Uint8Array(maxBytes);
  let used = 0;
  try {
    while (used < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      const take = Math.min(value.byteLength, maxBytes - used);
      out.set(value.subarray(0, take), used);
      used += take;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return out.subarray(0, used);
}

function hopWith(fetchImpl: typeof fetch): Hop {
  const fetcher = edgeFetch(fetchImpl);
  return async ({ check, method, headers, body, signal }) => {
    const res = await fetcher(check.url.href, {
      method,
      headers,
      body: body as BodyInit | undefined,
      redirect: "manual",
      signal,
    });
    const answerHeaders = new Headers(res.headers);
    // The body is cut here, so the guard's size checks never see a large answer.
    answerHeaders.delete("content-length");
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel().catch(() => undefined);
      return { status: res.status, headers: answerHeaders, body: null };
    }
    const preview = await readPreview(res.body, ERROR_PREVIEW_BYTES);
    return { status: res.status, headers: answerHeaders, body: new Response(preview).body };
  };
}

export async function postWebhook(
  url: string,
  policy: UrlPolicy,
  headers: Record<string, string>,
  payload: string,
  options: { fetchImpl?: typeof fetch; timeoutMs?: number } = {},
): Promise<PostResult> {
  const started = Date.now();
  try {
    const res = await runGuardedExchange(
      url,
      policy,
      {
        method: "POST",
        headers,
        body: payload,
        maxBytes: ERROR_PREVIEW_BYTES,
        timeoutMs: options.timeoutMs ?? DELIVERY_TIMEOUT_MS,
        maxRedirects: 0,
        expect: "any",
      },
      hopWith(options.fetchImpl ?? ((input, init) => fetch(input, init))),
    );
    return {
      kind: "answer",
      status: res.status,
      preview: new TextDecoder().decode(res.body),
      ms: Date.now() - started,
    };
  } catch (error) {
    if (!(error instanceof UrlGuardError)) throw error;
    return { kind: "error", error, ms: Date.now() - started };
  }
}
