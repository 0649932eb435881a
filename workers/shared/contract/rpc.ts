/**
 * RPC surfaces of the gateway's Durable Objects that other workers (the queue consumer) call through
 * cross-script bindings. The DO classes `implements` these, so both sides are checked by the compiler.
 */
import type { JobError } from "./jobs.ts";
import type { DispatchMessage } from "./queue.ts";

export interface PoolDispatchRpc {
  /** Idempotent by (job, attempt). */
  enqueue(msg: DispatchMessage): Promise<"queued" | "duplicate">;
}

export interface JobDispatchRpc {
  /** Fails the job for good if it still waits for dispatch `attempt` (e.g. an input could not be fetched). */
  failDispatch(attempt: number, error: JobError): Promise<void>;
  /** Marks (or clears) that the consumer is fetching dispatch `attempt`'s URL inputs (GET shows waiting_for). */
  inputsFetching(attempt: number, fetching: boolean): Promise<void>;
}
