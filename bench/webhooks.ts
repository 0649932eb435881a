/**
 * Issue 7 benchmark: a job reaching its terminal state -> the webhook received by a local receiver,
 * p50/p99 (target p50 <= 50 ms locally), on workerd through programmatic Miniflare.
 */

import { api, ensurePool, runnerToken, ScriptedRunner, TRIVIAL_WORKFLOW, tenantWithKey } from "../test/harness/api.ts";
import { startReceiver } from "../test/webhooks/receiver.ts";
import { startBenchStack } from "./lib/bench-stack.ts";
import { percentile } from "./lib/load.ts";

export interface WebhookBenchResult {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export async function benchWebhooks(quick = false): Promise<WebhookBenchResult> {
  const stack = await startBenchStack({ vars: { ALLOW_PRIVATE_URLS: "true", DEFAULT_REQUESTS_PER_MINUTE: "1000000" } });
  const receiver = await startReceiver();
  try {
    await ensurePool(stack, "local");
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "local"), "wh-bench");
    const t = await tenantWithKey(stack);
    const call = api(stack, t.key);
    const n = quick ? 20 : 100;
    const latencies: number[] = [];
    for (let i = 0; i < n + 3; i++) {
      const job = (
        await call("/v1/jobs", {
          body: { workflow: TRIVIAL_WORKFLOW, webhook: { url: receiver.url, events: ["job.succeeded"] } },
        })
      ).json;
      const g = await runner.lease(10);
      if (!g || g.job.id !== job.id) throw new Error("unexpected lease");
      const before = receiver.received.length;
      const start = performance.now();
      const res = await runner.event(g.lease.id, { type: "succeeded", outputs: [] });
      if (res.status !== 200) throw new Error(`event ${res.status}`);
      await receiver.waitFor((r) => r.length > before && r[r.length - 1]!.json.data.id === job.id, 10_000);
      if (i >= 3) latencies.push(performance.now() - start);
    }
    latencies.sort((a, b) => a - b);
    return {
      n: latencies.length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1]!,
    };
  } finally {
    await receiver.close();
    await stack.close();
  }
}

export function printWebhooks(r: WebhookBenchResult): string[] {
  return [
    "## Webhooks: terminal state -> webhook received",
    "",
    `- p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(2)} ms over ${r.n} jobs (target p50 <= 50 ms); measured from the runner's success report to the signed POST arriving at a local receiver (job DO outbox -> Queue "webhooks" -> consumer -> URL guard edge fetch)`,
  ];
}

if (import.meta.main) {
  console.log(printWebhooks(await benchWebhooks(process.argv.includes("--quick"))).join("\n"));
}
