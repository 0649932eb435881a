/** Bundles the workers with esbuild for programmatic Miniflare (tests, benchmarks). */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

export const ROOT = join(import.meta.dirname, "..", "..");
export const OUT = join(ROOT, ".tmp", "build");

export interface BuiltWorkers {
  gateway: string;
  consumer: string;
}

export async function bundle(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2024",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["browser", "module", "main"],
    external: ["cloudflare:*", "node:*"],
    sourcemap: "inline",
    logLevel: "error",
  });
}

export async function buildWorkers(): Promise<BuiltWorkers> {
  mkdirSync(OUT, { recursive: true });
  const gateway = join(OUT, "gateway.mjs");
  const consumer = join(OUT, "consumer.mjs");
  await Promise.all([
    bundle("workers/gateway/src/index.ts", gateway),
    bundle("workers/queue-consumer/src/index.ts", consumer),
  ]);
  return { gateway, consumer };
}
