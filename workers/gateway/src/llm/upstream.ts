/**
 * Sending a request upstream (chat completions, completions, embeddings): per upstream (by priority) up to `max_retries` retries on connection
 * errors, 408, 429 and 5xx with exponential backoff (honouring a short Retry-After), then the next
 * upstream serving the model. The per-upstream timeout covers the wait for response headers (and, for
 * non-stream answers, the body); a timed-out upstream is not retried but falls back.
 *
 * Final errors: 504 `upstream_timeout`, 429 `upstream_rate_limited` (with Retry-After), 502
 * `upstream_error` carrying the upstream's name, status and scrubbed message (never its URL or key),
 * 503 `llm_not_configured` when no upstream could even be called (missing secret or binding). An upstream
 * refusing the request itself (400, 413, 422: the client's own mistake, e.g. `max_tokens` too large) is
 * answered at once with that status, `upstream_invalid_request` and the upstream's scrubbed message.
 * Every one of these carries `x-should-retry: false`: the gateway has done the retrying, so the OpenAI
 * SDKs must not multiply it.
 */
import { equalJitterMs } from "@comfy-edge/shared/backoff";
import { ApiError } from "@comfy-edge/shared/errors";
import { log } from "@comfy-edge/shared/log";
import { notConfigured, type Upstream, upstreamApiKey, upstreamFetcher } from "./config.ts";
import { upstreamMessage, upstreamParam } from "./scrub.ts";

const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 2_000;
/** A longer Retry-After moves on to the next upstream instead of waiting. */
const MAX_RETRY_AFTER_MS = 5_000;
const ERROR_BODY_MAX = 16 * 1024;
/** Upstream statuses that describe the request itself: answered at once, no retry, no fallback. */
const REQUEST_FAULTS: ReadonlySet<number> = new Set([400, 413, 422]);
/** On every final upstream error: the OpenAI SDKs retry 408/409/429/5xx unless told not to. */
export const NO_RETRY: Readonly<Record<string, string>> = { "x-should-retry": "false" };

/** A per-attempt deadline: aborts the fetch (and a body being read) when it passes. */
export class Deadline {
  readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  expired = false;

  constructor(ms: number) {
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort(new Error("upstream timeout"));
    }, ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

type Failure =
  | { kind: "timeout"; upstream: string }
  | { kind: "network"; upstream: string }
  | {
      kind: "status";
      upstream: string;
      status: number;
      message: string;
      param: string | null;
      retryAfterMs: number | null;
    }
  | { kind: "config"; upstream: string };

export interface DispatchInput {
  env: Env;
  candidates: Upstream[];
  /** Under the upstream's base URL: `/chat/completions` (default), `/completions`, `/embeddings`. */
  path?: string;
  body: string;
  stream: boolean;
  requestId: string;
  /** Injectable for unit tests. */
  sleep?: (ms: number) => Promise<void>;
}

export interface Dispatched {
  response: Response;
  upstream: Upstream;
  /** Still running: the caller clears it once the body is read (non-stream) or when streaming starts. */
  deadline: Deadline;
  /** The upstream's key, to scrub from anything repeated to the client. */
  secrets: string[];
  /** The client request it serves (for log lines). */
  requestId: string;
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Equal jitter from 100 ms doubling up to 2 s (shared/backoff.ts), never shorter than the upstream's Retry-After. */
export function backoffMs(retry: number, retryAfterMs: number | null, random?: () => number): number {
  return Math.max(equalJitterMs(retry, { baseMs: BACKOFF_BASE_MS, maxMs: BACKOFF_MAX_MS, random }), retryAfterMs ?? 0);
}

export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Reads at most ERROR_BODY_MAX bytes of an error body, then lets the connection go. */
async function readErrorBody(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (text.length >= ERROR_BODY_MAX) {
        await reader.cancel();
        break;
      }
    }
  } catch (err) {
    // The status already says what failed; a body cut short only shortens the message.
    text += ` [body unreadable: ${err instanceof Error ? err.name : "error"}]`;
  }
  return text.slice(0, ERROR_BODY_MAX);
}

function finalError(failure: Failure | undefined): ApiError {
  if (!failure || failure.kind === "config") {
    return notConfigured("No upstream serving this model can be called; the operator has to fix the LLM upstreams.");
  }
  const details = { upstream: failure.upstream, upstream_status: failure.kind === "status" ? failure.status : null };
  if (failure.kind === "timeout") {
    return new ApiError(504, "upstream_timeout", `Upstream '${failure.upstream}' did not answer in time.`, {
      details,
      headers: NO_RETRY,
    });
  }
  if (failure.kind === "network") {
    return new ApiError(502, "upstream_error", `Could not connect to upstream '${failure.upstream}'.`, {
      details,
      headers: NO_RETRY,
    });
  }
  if (REQUEST_FAULTS.has(failure.status)) {
    return new ApiError(
      failure.status,
      "upstream_invalid_request",
      `Upstream '${failure.upstream}' refused the request: ${failure.message}`,
      { details, param: failure.param, headers: NO_RETRY },
    );
  }
  if (failure.status === 429) {
    const retryAfter = Math.max(1, Math.ceil((failure.retryAfterMs ?? 1000) / 1000));
    return new ApiError(
      429,
      "upstream_rate_limited",
      `Upstream '${failure.upstream}' is rate limiting requests: ${failure.message}`,
      { details, headers: { "retry-after": String(retryAfter), ...NO_RETRY } },
    );
  }
  return new ApiError(
    502,
    "upstream_error",
    `Upstream '${failure.upstream}' answered ${failure.status}: ${failure.message}`,
    { details, headers: NO_RETRY },
  );
}

/** Error for a failure after the upstream accepted the request (bad body, cut stream). */
export function upstreamBroken(upstream: string, message: string): ApiError {
  return new ApiError(502, "upstream_error", `Upstream '${upstream}' ${message}`, {
    details: { upstream, upstream_status: 200 },
    headers: NO_RETRY,
  });
}

export function upstreamTimedOut(upstream: string): ApiError {
  return new ApiError(504, "upstream_timeout", `Upstream '${upstream}' did not answer in time.`, {
    details: { upstream, upstream_status: null },
    headers: NO_RETRY,
  });
}

export async function dispatch(input: DispatchInput): Promise<Dispatched> {
  const sleep = input.sleep ?? sleepMs;
  let last: Failure | undefined;
  let lastReal: Failure | undefined;
  for (const upstream of input.candidates) {
    const key = upstreamApiKey(input.env, upstream);
    const fetcher = upstreamFetcher(input.env, upstream);
    if (key === undefined || fetcher === undefined) {
      log("error", { request_id: input.requestId }, "llm upstream misconfigured", {
        upstream: upstream.name,
        missing: key === undefined ? `secret ${upstream.apiKeySecret}` : `binding ${upstream.binding}`,
      });
      last = { kind: "config", upstream: upstream.name };
      continue;
    }
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: input.stream ? "text/event-stream" : "application/json",
      "x-request-id": input.requestId,
    };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    const secrets = key === null ? [] : [key];
    for (let attempt = 0; attempt <= upstream.maxRetries; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt, last?.kind === "status" ? last.retryAfterMs : null));
      const deadline = new Deadline(upstream.timeoutMs);
      let response: Response;
      try {
        response = await fetcher(`${upstream.baseUrl}${input.path ?? "/chat/completions"}`, {
          method: "POST",
          headers,
          body: input.body,
          signal: deadline.signal,
        });
      } catch (err) {
        deadline.clear();
        const timedOut = deadline.expired;
        last = lastReal = timedOut
          ? { kind: "timeout", upstream: upstream.name }
          : { kind: "network", upstream: upstream.name };
        log("warn", { request_id: input.requestId }, "llm upstream attempt failed", {
          upstream: upstream.name,
          attempt,
          failure: last.kind,
          error: timedOut ? "timeout" : err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        });
        if (timedOut) break;
        continue;
      }
      if (response.ok) return { response, upstream, deadline, secrets, requestId: input.requestId };
      const text = await readErrorBody(response);
      deadline.clear();
      const status = response.status;
      last = lastReal = {
        kind: "status",
        upstream: upstream.name,
        status,
        message: upstreamMessage(text, secrets),
        param: upstreamParam(text),
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
      };
      log("warn", { request_id: input.requestId }, "llm upstream attempt failed", {
        upstream: upstream.name,
        attempt,
        status,
      });
      if (REQUEST_FAULTS.has(status)) throw finalError(last);
      const retryable = status === 408 || status === 429 || status >= 500;
      if (!retryable) break;
      if (status === 429 && (last.retryAfterMs ?? 0) > MAX_RETRY_AFTER_MS) break;
    }
  }
  throw finalError(lastReal ?? last);
}
