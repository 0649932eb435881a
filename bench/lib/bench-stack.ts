/** The stack as the benchmarks run it: instrumented gateway + consumer on workerd, a floor worker. */
import { join } from "node:path";
import { bundle, OUT, ROOT } from "../../test/harness/build.ts";
import { type Stack, type StackOptions, startStack } from "../../test/harness/stack.ts";

export interface Counters {
  do_calls: number;
  d1_reads: number;
  d1_writes: number;
  /** DO calls by `BINDING.method`. */
  by_method: Record<string, number>;
}

export interface BenchStack extends Stack {
  /** Returns and resets the gateway's and the consumer's operation counts. */
  counters(): Promise<{ gateway: Counters; consumer: Counters }>;
}

export async function startBenchStack(options: StackOptions & { upstream?: string } = {}): Promise<BenchStack> {
  const gateway = join(OUT, "gateway-bench.mjs");
  const consumer = join(OUT, "consumer-bench.mjs");
  await Promise.all([
    bundle("bench/worker/instrumented-gateway.ts", gateway),
    bundle("bench/worker/instrumented-consumer.ts", consumer),
  ]);
  const stack = await startStack({
    ...options,
    built: { gateway, consumer },
    extraWorkers: [
      {
        name: "floor",
        modules: true,
        scriptPath: join(ROOT, "bench/worker/floor-worker.js"),
        compatibilityDate: "2026-07-01",
        routes: ["floor.bench/*"],
        bindings: options.upstream ? { UPSTREAM: options.upstream } : {},
      },
      ...(options.extraWorkers ?? []),
    ],
  });
  const counters = async () => {
    const g = (await (await fetch(`${stack.url}/__bench/counters`)).json()) as Counters;
    const worker = (await stack.mf.getWorker("comfy-edge-queue-consumer")) as unknown as {
      fetch(url: string): Promise<Response>;
    };
    const c = (await (await worker.fetch("http://consumer.bench/__bench/counters")).json()) as Counters;
    return { gateway: g, consumer: c };
  };
  return { ...stack, counters };
}
