/**
 * The size check of model inputs given as URLs, at submit (docs/models.md): one `HEAD` per URL through the
 * URL guard (every redirect hop checked, public hosts only, as the runner's download), and 422
 * `model_too_large` when the origin declares a `Content-Length` over the pool's `url_models.max_bytes`.
 * Best effort: an origin that does not answer HEAD, answers an error or declares no length passes, since
 * the runner enforces the same cap while it downloads. Answers are cached for 5 minutes (Cache API), so
 * jobs naming the same URL ask once. Only jobs with URL models get here.
 */
import { sha256Hex } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import type { UrlModelInput } from "@comfy-edge/shared/models/url-inputs";
import { guardedFetch, UrlGuardError, type UrlPolicy } from "@comfy-edge/shared/url-guard";

const HEAD_TIMEOUT_MS = 5000;
const TTL_S = 300;

/** Why a URL is over the cap (the guard's own words, e.g. "Content-Length 5000 exceeds the 1000-byte limit"), or null. */
type Verdict = { over: string | null };

async function cacheKey(url: string, maxBytes: number): Promise<Request> {
  return new Request(`https://model-size.cache.comfy-edge.internal/${maxBytes}/${await sha256Hex(url)}`);
}

/** Asks the origin (HEAD) whether the file is over `maxBytes`; never throws for the origin's failures. */
export async function overCap(url: string, maxBytes: number, policy: UrlPolicy): Promise<Verdict> {
  const cache = caches.default;
  const key = await cacheKey(url, maxBytes);
  const hit = await cache.match(key);
  if (hit) return (await hit.json()) as Verdict;
  let verdict: Verdict = { over: null };
  try {
    // The guard measures a declared Content-Length against maxBytes before reading anything.
    await guardedFetch(url, policy, { method: "HEAD", maxBytes, timeoutMs: HEAD_TIMEOUT_MS });
  } catch (error) {
    if (error instanceof UrlGuardError && error.code === "too_large") verdict = { over: error.message };
  }
  await cache.put(key, new Response(JSON.stringify(verdict), { headers: { "cache-control": `max-age=${TTL_S}` } }));
  return verdict;
}

/** 422 model_too_large for the first URL model whose origin declares more than `maxBytes`. */
export async function checkUrlModelSizes(
  inputs: readonly UrlModelInput[],
  maxBytes: number,
  policy: UrlPolicy,
): Promise<void> {
  const verdicts = await Promise.all(inputs.map((input) => overCap(input.url, maxBytes, policy)));
  inputs.forEach((input, i) => {
    const over = verdicts[i]?.over;
    if (over === null || over === undefined) return;
    throw new ApiError(
      422,
      "model_too_large",
      `The model file named by node ${input.nodeId} input '${input.input}' is too large for this pool: its server's ${over} for model files by URL. Use a smaller file, or one the pool already has (GET /v1/pools/:name/capabilities).`,
      { param: `workflow.${input.nodeId}.inputs.${input.input}` },
    );
  });
}
