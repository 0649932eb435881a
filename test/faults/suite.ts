/**
 * Fault suite: the whole system under faults. Gateway + consumer (workerd, persisted state), two runner
 * processes each beside its own ComfyUI double, a webhook receiver; jobs are submitted while
 *  (a) a runner is SIGKILLed mid-job every few seconds and restarted,
 *  (b) a ComfyUI double dies and comes back,
 *  (c) the webhook receiver is down for a while,
 *  (d) the local stack is restarted once with its persisted state (in-memory queues are lost),
 *  (e) duplicate queue deliveries are injected.
 * Then it checks: exactly one terminal state per job; succeeded outputs are those of the final attempt,
 * exactly once; no orphan objects after the sweep; every webhook event delivered with a valid signature.
 *
 * It runs inside vitest (`faults.test.ts`; `npm run test:faults` runs that file with 500 jobs): every wait for
 * state is `vi.waitFor`. Timers left are the fault schedule itself (a 500 ms chaos tick, a killed runner's
 * restart a second later) and the submission rate.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as pace, setInterval } from "node:timers/promises";
import { Webhook } from "standardwebhooks";
import { vi } from "vitest";
import { type ComfyDouble, startComfyDouble } from "../comfyui-double/index.ts";
import { api, ensurePool, readSse, runnerToken, TRIVIAL_WORKFLOW, tenantWithKey } from "../harness/api.ts";
import { ROOT } from "../harness/build.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { startReceiver } from "../webhooks/receiver.ts";

export interface FaultOptions {
  jobs: number;
  /** Submissions per second. */
  rate?: number;
  log?: (line: string) => void;
  timeoutMs?: number;
}

export interface FaultReport {
  jobs: number;
  statuses: Record<string, number>;
  terminal_events_not_one: number;
  wrong_outputs: number;
  orphans: number;
  webhooks: { received: number; bad_signatures: number; undelivered: number; jobs_missing_terminal_webhook: number };
  faults: {
    runner_kills: number;
    comfy_restarts: number;
    stack_restarts: number;
    duplicate_deliveries: number;
    receiver_down_ms: number;
  };
  seconds: number;
}

const VARS = {
  ALLOW_PRIVATE_URLS: "true",
  LEASE_DURATION_S: "4",
  DISPATCH_RESEND_S: "2",
  WEBHOOK_RESEND_S: "4",
  WEBHOOK_RETRY_DELAYS_S: "1,1,1,2,2,2,3,3",
  DEFAULT_REQUESTS_PER_MINUTE: "1000000",
};

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

interface RunnerProc {
  id: string;
  comfy: ComfyDouble;
  child: ChildProcess | null;
}

export async function runFaultSuite(options: FaultOptions): Promise<FaultReport> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  const persistDir = mkdtempSync(join(tmpdir(), "comfy-edge-faults-"));
  const port = await freePort();
  const secrets = {
    adminToken: `adm_${randomBytes(12).toString("hex")}`,
    signingSecret: randomBytes(32).toString("base64url"),
  };
  const boot = () => startStack({ persistDir, port, secrets, vars: VARS });
  let stack: Stack = await boot();
  const receiver = await startReceiver();
  let webhookSecret = "";
  let badSignatures = 0;
  const terminalByJob = new Set<string>();
  /** Verifies each delivery when it arrives (Standard Webhooks rejects timestamps older than 5 minutes). */
  const answer =
    (status: number) =>
    (r: { body: string; headers: Record<string, string>; json: { type: string; data: Record<string, any> } }) => {
      try {
        new Webhook(webhookSecret).verify(r.body, {
          "webhook-id": r.headers["webhook-id"]!,
          "webhook-timestamp": r.headers["webhook-timestamp"]!,
          "webhook-signature": r.headers["webhook-signature"]!,
        });
        if (status === 200 && ["job.succeeded", "job.failed", "job.canceled"].includes(r.json.type))
          terminalByJob.add(r.json.data.id);
      } catch {
        badSignatures++;
      }
      return status;
    };
  receiver.respond = answer(200);
  const faults = {
    runner_kills: 0,
    comfy_restarts: 0,
    stack_restarts: 0,
    duplicate_deliveries: 0,
    receiver_down_ms: 0,
  };
  const runners: RunnerProc[] = [];
  let stopping = false;
  try {
    await ensurePool(stack, "local");
    const token = await runnerToken(stack, "local");
    const tenant = await tenantWithKey(stack);
    webhookSecret = tenant.webhook_secret;
    const call = (path: string, init?: Parameters<ReturnType<typeof api>>[1]) => api(stack, tenant.key)(path, init);

    const startRunner = (r: RunnerProc) => {
      r.child = spawn(process.execPath, [join(ROOT, "runner/src/main.ts")], {
        env: {
          ...process.env,
          GATEWAY_URL: `http://127.0.0.1:${port}`,
          RUNNER_TOKEN: token,
          COMFYUI_URL: r.comfy.url,
          RUNNER_ID: r.id,
          LOG_LEVEL: "error",
          METRICS_PORT: "0",
        },
        stdio: ["ignore", "ignore", "inherit"],
      });
    };
    for (const id of ["runner-a", "runner-b"]) {
      const r: RunnerProc = { id, comfy: await startComfyDouble({ nodeDelayMs: 20 }), child: null };
      startRunner(r);
      runners.push(r);
    }

    const jobIds: string[] = [];
    // Chaos, on a schedule relative to the start of submission.
    let chaosDone = false;
    const chaos = (async () => {
      let tick = 0;
      const t0 = Date.now();
      let receiverDownAt = 0;
      for await (const _ of setInterval(500)) {
        if (stopping) break;
        tick++;
        const elapsed = Date.now() - t0;
        // (a) every 4 s, SIGKILL one runner mid-job and restart it a second later.
        if (tick % 8 === 0) {
          const r = runners[(tick / 8) % runners.length]!;
          r.child?.kill("SIGKILL");
          faults.runner_kills++;
          setTimeout(() => !stopping && startRunner(r), 1000);
        }
        // (b) ComfyUI double of runner-b dies at 4 s and comes back at 8 s.
        if (elapsed > 4000 && faults.comfy_restarts === 0 && tick % 2 === 0) {
          await runners[1]!.comfy.die();
          faults.comfy_restarts = -1;
        } else if (elapsed > 8000 && faults.comfy_restarts === -1) {
          await runners[1]!.comfy.restart();
          faults.comfy_restarts = 1;
        }
        // (c) the receiver is down from 2 s to 12 s.
        if (elapsed > 2000 && elapsed < 12000 && receiverDownAt === 0) {
          receiver.respond = answer(503);
          receiverDownAt = Date.now();
        } else if (elapsed >= 12000 && receiverDownAt > 0 && faults.receiver_down_ms === 0) {
          receiver.respond = answer(200);
          faults.receiver_down_ms = Date.now() - receiverDownAt;
        }
        // (d) restart the stack once at 10 s, with its persisted state.
        if (elapsed > 10_000 && faults.stack_restarts === 0) {
          faults.stack_restarts = 1;
          log("[faults] restarting the stack");
          await stack.close();
          stack = await boot();
        }
        if (
          elapsed > 14_000 &&
          faults.stack_restarts === 1 &&
          faults.comfy_restarts === 1 &&
          faults.receiver_down_ms > 0
        )
          chaosDone = true;
        // (e) a duplicate dispatch message for a random job, every second.
        if (tick % 2 === 0 && jobIds.length > 0) {
          const id = jobIds[Math.floor(Math.random() * jobIds.length)]!;
          try {
            const queue = await stack.mf.getQueueProducer("JOBS_QUEUE", "comfy-edge-gateway");
            for (const attempt of [1, 2]) {
              await queue.send({
                type: "dispatch",
                job_id: id,
                attempt,
                tenant_id: tenant.id,
                pool: "local",
                max_running: null,
                inputs: [],
                image_allowlist: null,
              });
              faults.duplicate_deliveries++;
            }
          } catch {
            // the stack is restarting
          }
        }
      }
    })();

    // Submit the jobs.
    // Spread the submissions over at least 15 s so every fault of the schedule meets jobs in flight.
    const rate = Math.min(options.rate ?? 25, options.jobs / 15);
    for (let i = 0; i < options.jobs; i++) {
      // While the stack restarts the submission fails: retried with the same idempotency key until accepted.
      const id = await vi.waitFor(
        async () => {
          const res = await call("/v1/jobs", {
            // cache: false: every job must really run through the faults (not be served from the output cache).
            body: { workflow: TRIVIAL_WORKFLOW, webhook: { url: receiver.url }, metadata: { i }, cache: false },
            headers: { "idempotency-key": `fault-${i}` },
          });
          if (res.status !== 202 && res.status !== 200) throw new Error(`submit ${i}: ${res.status}`);
          return res.json.id as string;
        },
        { timeout: 60_000, interval: 200 },
      );
      jobIds.push(id);
      await pace(1000 / rate);
    }
    log(`[faults] submitted ${jobIds.length} jobs`);

    // Wait until every job is terminal (the ones that never are count as unfinished in the report).
    const final = new Map<string, Record<string, any>>();
    await vi
      .waitFor(
        async () => {
          for (const id of jobIds) {
            if (final.has(id)) continue;
            const res = await call(`/v1/jobs/${id}`).catch(() => null); // null: the stack is restarting
            if (["succeeded", "failed", "canceled"].includes(res?.json?.status)) final.set(id, res!.json);
          }
          if (final.size < jobIds.length || !chaosDone)
            throw new Error(`${final.size}/${jobIds.length} jobs terminal, chaos done: ${chaosDone}`);
        },
        { timeout: options.timeoutMs ?? 300_000, interval: 500 },
      )
      .catch((err: Error) => log(`[faults] ${err.message}`));
    stopping = true;
    await chaos;
    receiver.respond = answer(200);
    log(`[faults] ${final.size}/${jobIds.length} jobs terminal after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const statuses: Record<string, number> = { unfinished: jobIds.length - final.size };
    for (const id of jobIds.filter((j) => !final.has(j))) {
      const job = (await call(`/v1/jobs/${id}`)).json;
      const sse = await readSse(`${stack.url}/v1/jobs/${id}/events`, tenant.key, { timeoutMs: 2000 }).catch(() => null);
      log(
        `[faults] unfinished ${id}: ${job?.status} attempt ${job?.attempt}; events ${sse?.events.map((e) => `${e.event}${e.data.attempt ? e.data.attempt : ""}`).join(",")}`,
      );
    }
    for (const j of final.values()) statuses[j.status] = (statuses[j.status] ?? 0) + 1;

    // Exactly one terminal event per job, and succeeded outputs from the final attempt, exactly once.
    let terminalNotOne = 0;
    let wrongOutputs = 0;
    for (const id of jobIds) {
      const sse = await readSse(`${stack.url}/v1/jobs/${id}/events`, tenant.key, { timeoutMs: 10_000 }).catch(
        () => null,
      );
      const terminal = sse?.events.filter((e) => ["succeeded", "failed", "canceled"].includes(e.event)).length ?? 0;
      if (terminal !== 1) terminalNotOne++;
      const job = final.get(id);
      if (job?.status === "succeeded") {
        const keys = (job.outputs as Array<{ url: string }>).map((o) => new URL(o.url).pathname);
        const ok = keys.length === 1 && keys.every((k) => k.includes(`/jobs/${id}/a${job.attempt}/`));
        if (!ok) wrongOutputs++;
      }
    }

    // No orphan objects once the sweeps have run: only the final attempt of succeeded jobs keeps outputs.
    const allowed = new Set<string>();
    for (const j of final.values()) if (j.status === "succeeded") allowed.add(`jobs/${j.id}/a${j.attempt}/`);
    const files = await stack.files();
    let orphans = 0;
    await vi
      .waitFor(
        async () => {
          const listed = await files.list({ prefix: "jobs/" });
          orphans = listed.objects.filter((o) => {
            const m = /^(jobs\/job_(?:[0-9a-z]{26}|[0-9a-f]{64})\/a\d+\/)/.exec(o.key);
            return m !== null && !allowed.has(m[1]!);
          }).length;
          if (orphans > 0) throw new Error(`${orphans} orphan objects`);
        },
        { timeout: 30_000, interval: 1000 },
      )
      .catch((err: Error) => log(`[faults] ${err.message}`));

    // Every webhook event delivered (delivery log) with a valid signature (standardwebhooks).
    // Per job: its deliveries not yet delivered, plus one while its terminal event has no delivery row.
    const undeliveredByJob = new Map(jobIds.map((id) => [id, Number.NaN]));
    await vi
      .waitFor(
        async () => {
          for (const [id, left] of undeliveredByJob) {
            if (left === 0) continue;
            const rows = ((await call(`/v1/jobs/${id}/webhook-deliveries`)).json?.data ?? []) as Array<{
              status: string;
              event: string;
            }>;
            const pending = rows.filter((r) => r.status !== "delivered").length;
            const hasTerminal = rows.some((r) => ["job.succeeded", "job.failed", "job.canceled"].includes(r.event));
            undeliveredByJob.set(id, pending + (hasTerminal ? 0 : 1));
          }
          const waiting = [...undeliveredByJob.values()].filter((n) => n > 0).length;
          if (waiting > 0) throw new Error(`${waiting} jobs with webhook events not delivered`);
        },
        { timeout: 60_000, interval: 500 },
      )
      .catch((err: Error) => log(`[faults] ${err.message}`));
    const undelivered = [...undeliveredByJob.values()].reduce((a, b) => a + (Number.isNaN(b) ? 1 : b), 0);
    const missingTerminal = jobIds.filter((id) => final.has(id) && !terminalByJob.has(id)).length;

    return {
      jobs: jobIds.length,
      statuses,
      terminal_events_not_one: terminalNotOne,
      wrong_outputs: wrongOutputs,
      orphans,
      webhooks: {
        received: receiver.received.length,
        bad_signatures: badSignatures,
        undelivered,
        jobs_missing_terminal_webhook: missingTerminal,
      },
      faults,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    stopping = true;
    for (const r of runners) {
      r.child?.kill("SIGKILL");
      await r.comfy.close();
    }
    await receiver.close();
    await stack.close();
    rmSync(persistDir, { recursive: true, force: true });
  }
}
