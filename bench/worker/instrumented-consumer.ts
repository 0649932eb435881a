/**
 * The queue consumer with counting wrappers around its Durable Object bindings (benchmarks only).
 * `GET http://consumer.bench/__bench/counters` returns and resets the counts.
 */
import consumer from "../../workers/queue-consumer/src/index.ts";

const counters = { do_calls: 0, d1_reads: 0, d1_writes: 0 };

function countingNamespace(ns: DurableObjectNamespace): DurableObjectNamespace {
  return new Proxy(ns, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "get") {
        return (...args: unknown[]) => {
          const stub = (value as (...a: unknown[]) => DurableObjectStub).apply(target, args);
          return new Proxy(stub, {
            get(s, p, r) {
              const v = Reflect.get(s, p, r);
              if (typeof v === "function" && p !== "id" && p !== "name") {
                return (...a: unknown[]) => {
                  counters.do_calls++;
                  return (s as unknown as Record<PropertyKey, (...x: unknown[]) => unknown>)[p]!(...a);
                };
              }
              return v;
            },
          });
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

export default {
  async fetch(): Promise<Response> {
    const snapshot = { ...counters };
    counters.do_calls = counters.d1_reads = counters.d1_writes = 0;
    return Response.json(snapshot);
  },
  async queue(batch: MessageBatch<unknown>, env: ConsumerEnv): Promise<void> {
    const wrapped = { ...env, JOBS: countingNamespace(env.JOBS), POOLS: countingNamespace(env.POOLS) };
    await consumer.queue(batch, wrapped);
  },
};
