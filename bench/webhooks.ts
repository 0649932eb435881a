/**
 * Webhook benchmarks on workerd through programmatic Miniflare, both figures measured in one run:
 * - baseline: a job reaching its terminal state -> the webhook received by a local receiver, p50/p99
 *   (target p50 <= 50 ms locally);
 * - the same for tenant B while tenant A's endpoint accepts connections and never answers (40 of A's
 *   deliveries sent among B's jobs), so a dead endpoint's effect on other tenants shows (issue 11.5).
 */

import type { LeaseGrant } from "@comfy-edge/shared/contract";
import { api, ensurePool, runnerToken, ScriptedRunner, TRIVIAL_WORKFLOW, tenantWithKey } from "../test/harness/api.ts";
import { type Receiver, startReceiver } from "../test/webhooks/receiver.ts";
import { startBenchStack } from "./lib/bench-stack.ts";
import { percentile } from "./lib/load.ts";

export interface LatencyFigures {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface WebhookBenchResult extends LatencyFigures {
  /** Tenant B's latencies while tenant A's endpoint hangs. */
  whileHanging: LatencyFigures;
  /** Deliveries to A's hanging endpoint that were POSTed (the rest were held back by its circuit / in-flight limit). */
  hangingPosts: number;
  hangingEvents: number;
}

type Call = ReturnType<typeof api>;

function figures(latencies: number[]): LatencyFigures {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

async function runOne(call: Call, runner: ScriptedRunner, url: string): Promise<{ id: string; grant: LeaseGrant }> {
  const job = (
    await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW, webhook: { url, events: ["job.succeeded"] } } })
  ).json;
  const grant = await runner.lease(10);
  if (!grant || grant.job.id !== job.id) throw new Error("unexpected lease");
  return { id: job.id as string, grant };
}

/** Runs `n` of tenant B's jobs; before each, `before` may add load. Returns B's terminal -> received latencies. */
async function measure(
  call: Call,
  runner: ScriptedRunner,
  receiver: Receiver,
  n: number,
  gapMs: number,
  before: (i: number) => Promise<void>,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) {
    await before(i);
    const { id, grant } = await runOne(call, runner, receiver.url);
    const start = performance.now();
    const res = await runner.event(grant.lease.id, { type: "succeeded", outputs: [] });
    if (res.status !== 200) throw new Error(`event ${res.status}`);
    await receiver.waitFor((r) => r.some((x) => x.json.data.id === id), 60_000);
    latencies.push(performance.now() - start);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return latencies;
}

export async function benchWebhooks(quick = false): Promise<WebhookBenchResult> {
  const stack = await startBenchStack({ vars: { ALLOW_PRIVATE_URLS: "true", DEFAULT_REQUESTS_PER_MINUTE: "1000000" } });
  const healthy = await startReceiver();
  const hanging = await startReceiver();
  hanging.respond = "hang";
  try {
    await ensurePool(stack, "local");
    const runner = new ScriptedRunner(stack, await runnerToken(stack, "local"), "wh-bench");
    const b = api(stack, (await tenantWithKey(stack)).key);
    const a = api(stack, (await tenantWithKey(stack)).key);
    const n = quick ? 20 : 100;
    const gapMs = quick ? 20 : 50;
    const hangingEvents = 40;
    await measure(b, runner, healthy, 3, gapMs, async () => undefined); // warm-up
    const baseline = await measure(b, runner, healthy, n, gapMs, async () => undefined);
    // Tenant A's 40 deliveries to an endpoint that never answers, spread over the first part of B's run.
    const every = Math.max(1, Math.floor(n / hangingEvents / 2));
    let sent = 0;
    const whileHanging = await measure(b, runner, healthy, n, gapMs, async (i) => {
      if (i === 0) {
        // A burst first: more deliveries to the hanging endpoint than its in-flight limit.
        for (; sent < 10; sent++) {
          const { grant } = await runOne(a, runner, hanging.url);
          await runner.event(grant.lease.id, { type: "succeeded", outputs: [] });
        }
      }
      if (i % every === 0 && sent < hangingEvents) {
        const { grant } = await runOne(a, runner, hanging.url);
        await runner.event(grant.lease.id, { type: "succeeded", outputs: [] });
        sent++;
      }
    });
    return {
      ...figures(baseline),
      whileHanging: figures(whileHanging),
      hangingPosts: hanging.received.length,
      hangingEvents: sent,
    };
  } finally {
    await healthy.close();
    await hanging.close();
    await stack.close();
  }
}

export function printWebhooks(r: WebhookBenchResult): string[] {
  const h = r.whileHanging;
  return [
    "## Webhooks: terminal state -> webhook received",
    "",
    `- baseline: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(2)} ms over ${r.n} jobs (target p50 <= 50 ms); measured from the runner's success report to the signed POST arriving at a local receiver (job DO outbox -> Queue "webhooks" -> consumer -> URL guard edge fetch)`,
    `- other tenant while one endpoint hangs: p50 ${h.p50.toFixed(2)} ms, p99 ${h.p99.toFixed(2)} ms, max ${h.max.toFixed(2)} ms over ${h.n} jobs, same run, while ${r.hangingEvents} deliveries of another tenant went to a receiver that never answers (${r.hangingPosts} of them POSTed; the rest held back by that endpoint's in-flight limit and circuit breaker)`,
  ];
}

if (import.meta.main) {
  console.log(printWebhooks(await benchWebhooks(process.argv.includes("--quick"))).join("\n"));
}
