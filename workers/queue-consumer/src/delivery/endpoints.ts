/**
 * Health of webhook endpoints as one consumer isolate sees them: deliveries in flight per endpoint and a
 * circuit breaker, so a slow or dead receiver delays only its own tenant's deliveries.
 *
 * - At most `maxInFlight` POSTs at a time to one slow endpoint (URL origin); more are not sent now. An
 *   endpoint that answers promptly is not limited (its POSTs end within the batch that sent them).
 * - `failureThreshold` failures in a row without an answer (timeout, connection or DNS failure, or an
 *   error answer slower than `slowMs`) open the circuit for a cooldown (doubling per reopening, capped):
 *   deliveries to it are not attempted (no 10 s wait) and retry once it is over. Then one probe goes out
 *   (half open): an answer closes the circuit, another failure reopens it.
 * - A healthy endpoint (closed circuit, under its in-flight limit) is sent to at once, and a batch waits
 *   briefly for its answer: the fast path. Once an attempt outlives that wait, the endpoint is `slow` until
 *   it answers promptly again: its attempts then never hold a batch (they finish in the background).
 *
 * The state lives in this object, one per consumer isolate (created with the queue handler), in a map
 * bounded to `maxEndpoints` (least recently used endpoints are forgotten). It is per isolate on purpose:
 * no extra call on the delivery path, and each isolate learns about a dead endpoint from its own attempts.
 */

import { doublingMs } from "@comfy-edge/shared/backoff";
export interface EndpointLimits {
  maxInFlight: number;
  failureThreshold: number;
  /** An error answer slower than this counts as a failure of the endpoint (a quick one shows it is alive). */
  slowMs: number;
  baseCooldownMs: number;
  maxCooldownMs: number;
  maxEndpoints: number;
}

export const DEFAULT_ENDPOINT_LIMITS: EndpointLimits = {
  maxInFlight: 8,
  failureThreshold: 3,
  slowMs: 2_000,
  baseCooldownMs: 10_000,
  maxCooldownMs: 300_000,
  maxEndpoints: 1_000,
};

interface EndpointState {
  inFlight: number;
  failures: number;
  opens: number;
  /** Epoch ms until which the circuit is open; 0 when closed. */
  openUntil: number;
  probing: boolean;
  lastError: string | null;
  /** An attempt outlived the answer wait and no quick answer came since: do not hold a batch for it. */
  slow: boolean;
}

/** What a finished attempt tells about its endpoint. */
export type EndpointResult = { kind: "answer"; ms: number; ok: boolean } | { kind: "no_answer"; error: string };

export interface Admitted {
  ok: true;
  /** Fast path: the endpoint answers promptly, so a batch may wait for its answer (briefly). */
  patient: boolean;
  /** The attempt outlived the answer wait: later attempts go straight to the background. */
  slow(): void;
  /** Reports the attempt's result; call exactly once. */
  done(result: EndpointResult): void;
}

export interface Refused {
  ok: false;
  /** Why the delivery was not sent now, for the delivery log. */
  reason: string;
  /** Epoch ms: do not try this endpoint again before then. */
  retryAt: number;
}

export function endpointKey(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

export class EndpointHealth {
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly limits: EndpointLimits;
  private readonly now: () => number;

  constructor(limits: EndpointLimits = DEFAULT_ENDPOINT_LIMITS, now: () => number = Date.now) {
    this.limits = limits;
    this.now = now;
  }

  /** Asks to send one delivery to `url` now. */
  admit(url: string): Admitted | Refused {
    const key = endpointKey(url);
    const state = this.state(key);
    const now = this.now();
    let probe = false;
    if (state.openUntil > now) {
      return {
        ok: false,
        reason: `not sent: ${key} failed ${state.failures} times in a row (last: ${state.lastError ?? "no answer"}); next try after the pause`,
        retryAt: state.openUntil,
      };
    }
    if (state.openUntil !== 0) {
      // Half open: one probe at a time.
      if (state.probing) {
        return {
          ok: false,
          reason: `not sent: a test delivery to ${key} is under way after ${state.failures} failures in a row`,
          retryAt: now + this.limits.baseCooldownMs,
        };
      }
      probe = true;
      state.probing = true;
    } else if (state.slow && state.inFlight >= this.limits.maxInFlight) {
      return {
        ok: false,
        reason: `not sent: ${state.inFlight} deliveries to ${key} are still waiting for an answer`,
        retryAt: now + this.limits.baseCooldownMs,
      };
    }
    state.inFlight += 1;
    let reported = false;
    return {
      ok: true,
      patient: !state.slow,
      slow: () => {
        state.slow = true;
      },
      done: (result) => {
        if (reported) return;
        reported = true;
        state.inFlight -= 1;
        if (probe) state.probing = false;
        this.record(state, result, probe);
      },
    };
  }

  /** The circuit of `url`'s endpoint is open (tests, logs). */
  isOpen(url: string): boolean {
    const state = this.endpoints.get(endpointKey(url));
    return state !== undefined && state.openUntil > this.now();
  }

  /** Deliveries to `url`'s endpoint in flight. */
  inFlight(url: string): number {
    return this.endpoints.get(endpointKey(url))?.inFlight ?? 0;
  }

  private record(state: EndpointState, result: EndpointResult, probe: boolean): void {
    const failed = result.kind === "no_answer" || (!result.ok && result.ms > this.limits.slowMs);
    state.slow = result.kind === "no_answer" || result.ms > this.limits.slowMs;
    if (!failed) {
      state.failures = 0;
      state.opens = 0;
      state.openUntil = 0;
      state.lastError = null;
      return;
    }
    state.failures += 1;
    state.lastError = result.kind === "no_answer" ? result.error : `an error answer after ${result.ms} ms`;
    // A failed probe reopens (longer); attempts that were in flight when the circuit opened do not.
    if (probe || (state.openUntil === 0 && state.failures >= this.limits.failureThreshold)) {
      state.opens += 1;
      const cooldown = doublingMs(state.opens, this.limits.baseCooldownMs, this.limits.maxCooldownMs);
      state.openUntil = this.now() + cooldown;
    }
  }

  private state(key: string): EndpointState {
    let state = this.endpoints.get(key);
    if (state) {
      // Most recently used last: eviction takes the oldest.
      this.endpoints.delete(key);
    } else {
      state = { inFlight: 0, failures: 0, opens: 0, openUntil: 0, probing: false, lastError: null, slow: false };
      while (this.endpoints.size >= this.limits.maxEndpoints) {
        const oldest = this.endpoints.keys().next().value;
        if (oldest === undefined) break;
        this.endpoints.delete(oldest);
      }
    }
    this.endpoints.set(key, state);
    return state;
  }
}
