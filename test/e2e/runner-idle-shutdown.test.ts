/**
 * Graceful shutdown without a job to drain (issue 13's Ctrl-C with zero jobs): the runner ends at once,
 * without waiting for its long poll or the drain timeout; a running job is still drained. Asserted by the
 * order of events, never by elapsed time: the drain timeout is an hour, and the gateway's answer to the long
 * poll is watched on the wire.
 */
import { connect, createServer, type Socket } from "node:net";
import { describe, expect, it, vi } from "vitest";
import { startComfyDouble } from "../comfyui-double/index.ts";
import { runnerToken } from "../harness/api.ts";
import { startTestRunner } from "./helpers.ts";
import { useRunnerSuite } from "./runner-suite.ts";

const suite = useRunnerSuite("rq");
const HOUR_MS = 3_600_000;

/** A TCP proxy in front of the gateway that counts the bytes the gateway sends back. */
async function watchingProxy(target: string) {
  const upstream = new URL(target);
  let fromGateway = 0;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const remote = connect(Number(upstream.port), upstream.hostname);
    open.add(client).add(remote);
    remote.on("data", (chunk: Buffer) => {
      fromGateway += chunk.length;
    });
    const drop = () => {
      client.destroy();
      remote.destroy();
    };
    client.on("error", drop).on("close", drop);
    remote.on("error", drop).on("close", drop);
    client.pipe(remote).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as import("node:net").AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get fromGateway() {
      return fromGateway;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function waitingRunners(pool: string): Promise<number> {
  const res = await fetch(`${suite.stack.url}/admin/v1/pools/${pool}/metrics`, {
    headers: { authorization: `Bearer ${suite.stack.adminToken}` },
  });
  const line = (await res.text()).split("\n").find((l) => l.startsWith("comfy_edge_pool_waiting_runners"));
  return Number(line?.split(" ").at(-1));
}

describe("runner: shutdown when idle", () => {
  it("with no job running, close() ends before the gateway answers the long poll (drain timeout an hour)", async () => {
    const pool = "rq-idle";
    const comfy = await startComfyDouble();
    suite.cleanups.push(() => comfy.close());
    const proxy = await watchingProxy(suite.stack.url);
    suite.cleanups.push(() => proxy.close());
    const r = await startTestRunner({ ...suite.stack, url: proxy.url }, [comfy.url], {
      token: await runnerToken(suite.stack, pool),
      tuning: { leaseWaitS: 25 },
    });
    suite.cleanups.push(() => r.close());
    // The runner's long poll is open in the pool.
    await expect.poll(() => waitingRunners(pool), { timeout: 15_000 }).toBe(1);
    const before = proxy.fromGateway;
    const closing = r.runner.close({ drainMs: HOUR_MS });
    await closing;
    // Ended while the long poll was still unanswered: not a byte from the gateway since, no drain waited.
    expect(proxy.fromGateway).toBe(before);
    expect(r.runner.slots[0]!.state).toBe("stopped");
    // Idempotent: the same shutdown.
    expect(r.runner.close()).toBe(closing);
    await r.runner.close({ drainMs: 0 });
  });

  it("with a job on one slot: the idle slot stops at once, the busy one drains its job to success", async () => {
    const pool = "rq-busy";
    const comfy = await startComfyDouble();
    suite.cleanups.push(() => comfy.close());
    const r2 = await startTestRunner(suite.stack, [comfy.url, comfy.url], {
      token: await runnerToken(suite.stack, pool),
      tuning: { leaseWaitS: 25, historyPollMs: 200 },
    });
    suite.cleanups.push(() => r2.close());
    await expect.poll(() => waitingRunners(pool), { timeout: 15_000 }).toBe(2);
    comfy.setNodeDelay("ImageInvert", 4_000);
    const submitted = await suite.tenant.call("/v1/jobs", { body: { pool, workflow: suite.freshWorkflow() } });
    expect(submitted.status, JSON.stringify(submitted.json)).toBe(202);
    const jobId = submitted.json.id as string;
    await vi.waitFor(() => expect(r2.runner.jobs).toHaveLength(1), { timeout: 15_000, interval: 20 });
    const idle = r2.runner.slots.find((slot) => !slot.busy)!;
    const closing = r2.runner.close({ drainMs: HOUR_MS });
    await vi.waitFor(() => expect(idle.state).toBe("stopped"), { timeout: 15_000, interval: 20 });
    // The idle slot stopped while the job still ran on the other.
    expect(r2.runner.jobs.map((j) => j.jobId)).toEqual([jobId]);
    await closing;
    expect(await r2.resultFor(jobId)).toBe("succeeded");
  });
});
