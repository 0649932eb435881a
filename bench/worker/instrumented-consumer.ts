/**
 * The queue consumer with counting wrappers around its Durable Object bindings (benchmarks only).
 * `GET http://consumer.bench/__bench/counters` returns and resets the counts.
 */
import consumer from "../../workers/queue-consumer/src/index.ts";
import { countingNamespace } from "./counting.ts";

const wrapped = new WeakMap<ConsumerEnv, ConsumerEnv>();
const counters = { do_calls: 0, d1_reads: 0, d1_writes: 0, by_method: {} as Record<string, number> };

export default {
  async fetch(): Promise<Response> {
    const snapshot = { ...counters };
    counters.do_calls = counters.d1_reads = counters.d1_writes = 0;
    counters.by_method = {};
    return Response.json(snapshot);
  },
  async queue(batch: MessageBatch<unknown>, env: ConsumerEnv, ctx: ExecutionContext): Promise<void> {
    // One wrapper per env: the consumer memoises its parsed config per env object, as in production.
    let w = wrapped.get(env);
    if (!w) {
      w = {
        ...env,
        JOBS: countingNamespace(env.JOBS, counters, "JOBS"),
        POOLS: countingNamespace(env.POOLS, counters, "POOLS"),
      };
      wrapped.set(env, w);
    }
    await consumer.queue(batch, w, ctx);
  },
};
