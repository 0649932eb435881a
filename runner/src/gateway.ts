/**
 * The gateway's runner API (design.md "Runner"), parsed at the boundary with the shared contract:
 * POST /runner/v1/lease (long-poll), heartbeats, upload URLs, events, and DELETE to give a job back.
 * A 409 `lease_lost` (or 404 for a lease that no longer exists) throws LeaseLostError: another attempt owns
 * the job and this runner must drop it.
 */

import { backoffMs } from "@comfy-edge/shared/backoff";
import { ErrorEnvelope } from "@comfy-edge/shared/contract/common";
import {
  CancelWaitResponse,
  type CapabilitiesPut,
  EventAck,
  HeartbeatResponse,
  LeaseGrant,
  type LeaseRequest,
  type RunnerEvent,
  UploadResponse,
} from "@comfy-edge/shared/contract/runner";
import { z } from "zod";
import { HttpError, parseJson, sendText } from "./http.ts";

export class LeaseLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LeaseLostError";
  }
}

export class GatewayError extends Error {
  readonly status: number;
  readonly code: string;
  /** Network trouble, 5xx or 429: the same call may work later. */
  readonly retryable: boolean;
  constructor(status: number, code: string, message: string, retryable: boolean, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "GatewayError";
    this.status = status;
    this.code = code;
    this.retryable = retryable;
  }
}

export type EventAnswer = z.infer<typeof EventAck>;
export type HeartbeatAnswer = z.infer<typeof HeartbeatResponse>;
export type UploadTarget = z.infer<typeof UploadResponse>;

/** Per call: an abort signal and a timeout (default: the client's, 30 s). */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface GatewayClientOptions {
  baseUrl: string;
  token: string;
  /** Per-call timeout for everything but the lease long-poll. */
  timeoutMs?: number;
}

const LeaseIdOnly = z.object({ lease: z.object({ id: z.string().min(1) }) });

export class GatewayClient {
  readonly baseUrl: string;
  private readonly auth: string;
  private readonly timeoutMs: number;

  constructor(options: GatewayClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.auth = `Bearer ${options.token}`;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  private async call(
    method: string,
    path: string,
    body: unknown,
    options: CallOptions = {},
  ): Promise<{ status: number; json: unknown }> {
    const what = `${method} ${path.replace(/leases\/[^/]+/, "leases/:id")}`;
    let res: Awaited<ReturnType<typeof sendText>>;
    try {
      res = await sendText({
        method,
        url: `${this.baseUrl}/runner/v1${path}`,
        headers:
          body === undefined
            ? { authorization: this.auth }
            : { authorization: this.auth, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: options.signal,
        timeoutMs: options.timeoutMs ?? this.timeoutMs,
      });
    } catch (err) {
      if (err instanceof HttpError && err.kind === "aborted") throw err;
      throw new GatewayError(0, "unreachable", `gateway ${what}: ${(err as Error).message}`, true, err);
    }
    const json = parseJson(res.text);
    if (res.status >= 200 && res.status < 300) return { status: res.status, json };
    const envelope = ErrorEnvelope.safeParse(json);
    const code = envelope.success ? envelope.data.error.code : `http_${res.status}`;
    const message = envelope.success ? envelope.data.error.message : res.text.slice(0, 200);
    if (res.status === 409 && code === "lease_lost") throw new LeaseLostError(message);
    if (res.status === 404 && code === "lease_not_found") throw new LeaseLostError(message);
    const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
    throw new GatewayError(res.status, code, `gateway ${what}: ${res.status} ${code}: ${message}`, retryable);
  }

  /**
   * Long-polls for a job. Resolves null on 204. A grant this runner cannot read is given back and reported
   * as a GatewayError (the versions disagree).
   */
  async lease(request: LeaseRequest, signal?: AbortSignal): Promise<LeaseGrant | null> {
    const waitMs = (request.wait_s ?? 20) * 1000;
    const res = await this.call("POST", "/lease", request, { signal, timeoutMs: waitMs + 15_000 });
    if (res.status === 204) return null;
    const grant = LeaseGrant.safeParse(res.json);
    if (grant.success) return grant.data;
    const idOnly = LeaseIdOnly.safeParse(res.json);
    if (idOnly.success) await this.giveBack(idOnly.data.lease.id, { timeoutMs: 15_000 }).catch(() => {});
    throw new GatewayError(
      res.status,
      "bad_grant",
      `the gateway's lease grant does not match this runner's contract: ${grant.error.issues[0]?.path.join(".")}: ${grant.error.issues[0]?.message}`,
      false,
    );
  }

  async heartbeat(leaseId: string, options: CallOptions = {}): Promise<HeartbeatAnswer> {
    const res = await this.call("POST", `/leases/${encodeURIComponent(leaseId)}/heartbeat`, undefined, options);
    const parsed = HeartbeatResponse.safeParse(res.json);
    if (!parsed.success) throw new GatewayError(res.status, "bad_answer", "unexpected heartbeat answer", true);
    return parsed.data;
  }

  /** Long-polls up to `waitS` for a cancel of the lease's job (`{cancel: false}` when the wait ends). */
  async cancelWait(leaseId: string, waitS: number, options: CallOptions = {}): Promise<{ cancel: boolean }> {
    const res = await this.call(
      "POST",
      `/leases/${encodeURIComponent(leaseId)}/cancel-wait`,
      { wait_s: waitS },
      { signal: options.signal, timeoutMs: options.timeoutMs ?? waitS * 1000 + 15_000 },
    );
    const parsed = CancelWaitResponse.safeParse(res.json);
    if (!parsed.success) throw new GatewayError(res.status, "bad_answer", "unexpected cancel-wait answer", true);
    return parsed.data;
  }

  async uploadUrl(
    leaseId: string,
    body: { filename: string; content_type: string; node_id?: string },
    options: CallOptions = {},
  ): Promise<UploadTarget> {
    const res = await this.call("POST", `/leases/${encodeURIComponent(leaseId)}/uploads`, body, options);
    const parsed = UploadResponse.safeParse(res.json);
    if (!parsed.success) throw new GatewayError(res.status, "bad_answer", "unexpected upload-URL answer", true);
    return parsed.data;
  }

  async event(leaseId: string, event: RunnerEvent, options: CallOptions = {}): Promise<EventAnswer> {
    const res = await this.call("POST", `/leases/${encodeURIComponent(leaseId)}/events`, event, options);
    const parsed = EventAck.safeParse(res.json);
    if (!parsed.success) throw new GatewayError(res.status, "bad_answer", "unexpected event answer", true);
    return parsed.data;
  }

  async giveBack(leaseId: string, options: CallOptions = {}): Promise<void> {
    await this.call("DELETE", `/leases/${encodeURIComponent(leaseId)}`, undefined, options);
  }

  /** PUT /runner/v1/capabilities: the report whose digest this runner leases with (docs/capabilities.md). */
  async putCapabilities(body: CapabilitiesPut, options: CallOptions = {}): Promise<void> {
    await this.call("PUT", "/capabilities", body, { timeoutMs: 60_000, ...options });
  }
}

export interface RetryOptions {
  /** Total tries (first included). */
  attempts: number;
  baseMs?: number;
  maxMs?: number;
  signal?: AbortSignal;
  /** Default: GatewayError.retryable. LeaseLostError and aborts are never retried. */
  retryable?: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Runs `fn` until it succeeds, a non-retryable error happens, or `attempts` are spent (backoff with jitter). */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const retryable = options.retryable ?? ((err: unknown) => err instanceof GatewayError && err.retryable);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (err instanceof LeaseLostError || options.signal?.aborted) throw err;
      if (attempt >= options.attempts || !retryable(err)) throw err;
      const delay = backoffMs(attempt, { baseMs: options.baseMs ?? 200, maxMs: options.maxMs ?? 5_000 });
      options.onRetry?.(err, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}
