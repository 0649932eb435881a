/**
 * RPC surfaces of the gateway's Durable Objects that other workers (the queue consumer) call through
 * cross-script bindings. The DO classes `implements` these, so both sides are checked by the compiler.
 */
import type { JobError } from "./jobs.ts";
import type { DispatchMessage, DispatchNeeds } from "./queue.ts";

export interface PoolDispatchRpc {
  /** Idempotent by (job, attempt). */
  enqueue(msg: DispatchMessage): Promise<"queued" | "duplicate">;
  /**
   * Whether this pool could take a job with `needs` now (pool groups): live runners, whether one of them can
   * run it (a runner without a report counts as able), and the wait estimate of a job queued now. Asked of
   * one shard of a pool with `shards` shards (default 1), the estimate scales that shard's counts up.
   */
  placement(needs: DispatchNeeds | null, shards?: number): Promise<PoolPlacement>;
  /** Attempts up to `attempt` of a job are over here (a pool group's job moved away): forget them. */
  release(jobId: string, attempt: number): Promise<void>;
}

export interface PoolPlacement {
  live_runners: number;
  capable: boolean;
  /** null: no live runner. */
  estimated_wait_s: number | null;
}

export interface JobDispatchRpc {
  /** Fails the job for good if it still waits for dispatch `attempt` (e.g. an input could not be fetched). */
  failDispatch(attempt: number, error: JobError): Promise<void>;
  /** Marks (or clears) that the consumer is fetching dispatch `attempt`'s URL inputs (GET shows waiting_for). */
  inputsFetching(attempt: number, fetching: boolean): Promise<void>;
  /**
   * A job of a pool group waiting for dispatch `attempt` moves to member `to` (the consumer found its pool
   * without a live capable runner, or over the group's wait threshold). The dispatch message to enqueue, or
   * null when the job no longer waits for that attempt in pool `from` (then nothing is enqueued).
   */
  movePool(attempt: number, from: string, to: string): Promise<DispatchMessage | null>;
}
