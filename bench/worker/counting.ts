/** Counting wrappers for the benchmarks' operation budgets (shared by the instrumented workers). */
export interface Counters {
  do_calls: number;
  d1_reads: number;
  d1_writes: number;
  /** DO calls by `BINDING.method` (e.g. `JOBS.create`), for the per-job breakdown. */
  by_method: Record<string, number>;
}

/** Wraps a Durable Object namespace so every RPC call on its stubs adds one to `counters.do_calls`. */
export function countingNamespace<T extends DurableObjectNamespace>(ns: T, counters: Counters, binding: string): T {
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
                  const name = `${binding}.${String(p)}`;
                  counters.by_method[name] = (counters.by_method[name] ?? 0) + 1;
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
