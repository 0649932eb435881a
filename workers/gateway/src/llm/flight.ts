/**
 * Single flight for cacheable answers: while one request (the leader) fetches an answer, identical
 * requests in the same isolate wait for it instead of calling the upstream again. One instance per
 * isolate, created by the chat route factory.
 */
import type { ApiError } from "@comfy-edge/shared/errors";
import type { TokenUsage } from "./completion.ts";

export type FlightResult =
  | { ok: true; text: string; usage: TokenUsage | null }
  /** `error` null: the leader gave up for its own reasons (its client left); followers go on their own. */
  | { ok: false; error: ApiError | null };

export interface Leader {
  /**
   * Hands the result to the followers. With `holdUntil` (the cache write), later identical requests keep
   * joining this flight until it settles, so there is no moment when neither the flight nor the KV entry
   * can answer them.
   */
  settle(result: FlightResult, holdUntil?: Promise<unknown>): void;
}

export class SingleFlight {
  private readonly inflight = new Map<string, Promise<FlightResult>>();

  /** The answer an identical in-flight request will get, if there is one. */
  join(key: string): Promise<FlightResult> | undefined {
    return this.inflight.get(key);
  }

  /** Registers the caller as the one fetching `key`; it must settle exactly once. */
  lead(key: string): Leader {
    let resolve: (result: FlightResult) => void = () => {};
    const promise = new Promise<FlightResult>((r) => {
      resolve = r;
    });
    this.inflight.set(key, promise);
    let settled = false;
    const release = () => {
      if (this.inflight.get(key) === promise) this.inflight.delete(key);
    };
    return {
      settle: (result, holdUntil) => {
        if (settled) return;
        settled = true;
        resolve(result);
        if (result.ok && holdUntil) holdUntil.then(release, release);
        else release();
      },
    };
  }

  get size(): number {
    return this.inflight.size;
  }
}
