/**
 * The gateway with counting wrappers around its D1 and Durable Object bindings, for the benchmarks'
 * operation budgets. Built only by the benchmark; production and tests use workers/gateway/src/index.ts.
 * `GET /__bench/counters` returns and resets the counts (worker and Durable Objects share one isolate
 * locally, so one counter object sees both).
 */
import gateway from "../../workers/gateway/src/index.ts";
import { JobDO as BaseJobDO } from "../../workers/gateway/src/jobs/job-do.ts";
import { KeyDO as BaseKeyDO } from "../../workers/gateway/src/keys/key-do.ts";
import type { StoredWindow } from "../../workers/gateway/src/keys/rate-window.ts";
import { PoolDO as BasePoolDO } from "../../workers/gateway/src/pools/pool-do.ts";

export { QueueSlotsDO } from "../../workers/gateway/src/jobs/queue-slots.ts";

import { countingNamespace } from "./counting.ts";

const counters = {
  do_calls: 0,
  d1_reads: 0,
  d1_writes: 0,
  window_writes: 0,
  job_objects_started: 0,
  job_alarms: 0,
  by_method: {} as Record<string, number>,
};

function countingDb(db: D1Database): D1Database {
  const wrapStmt = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const isRead = /^\s*(SELECT|WITH)/i.test(sql);
    return new Proxy(stmt, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop === "bind")
          return (...args: unknown[]) =>
            wrapStmt((value as (...a: unknown[]) => D1PreparedStatement).apply(target, args), sql);
        if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
          return (...args: unknown[]) => {
            if (isRead) counters.d1_reads++;
            else counters.d1_writes++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  return new Proxy(db, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "prepare") return (sql: string) => wrapStmt(target.prepare(sql), sql);
      if (prop === "batch") {
        return (stmts: D1PreparedStatement[]) => {
          counters.d1_writes += stmts.length;
          return target.batch(stmts);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * One wrapped env per real env: the gateway memoises per env object (its zod-parsed config, shared/config.ts),
 * as production does with the isolate's one env; a fresh wrapper per request would re-parse it every time
 * and bill the benchmark for work production never does.
 */
const wrapped = new WeakMap<Env, Env>();

function instrument(env: Env): Env {
  let w = wrapped.get(env);
  if (!w) {
    w = wrap(env);
    wrapped.set(env, w);
  }
  return w;
}

function wrap(env: Env): Env {
  return {
    ...env,
    DB: countingDb(env.DB),
    KEYS: countingNamespace(env.KEYS, counters, "KEYS"),
    JOBS: countingNamespace(env.JOBS, counters, "JOBS"),
    POOLS: countingNamespace(env.POOLS, counters, "POOLS"),
    QUEUE_SLOTS: countingNamespace(env.QUEUE_SLOTS, counters, "QUEUE_SLOTS"),
  };
}

export class KeyDO extends BaseKeyDO {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, instrument(env));
  }

  /** `BENCH_WINDOW_STEP` = "1" stores the rate window on every request (the cost of persisting it). */
  protected override reservationStep(limit: number): number {
    const step = Number((this.env as Env & { BENCH_WINDOW_STEP?: string }).BENCH_WINDOW_STEP);
    return step > 0 ? step : super.reservationStep(limit);
  }

  protected override storeWindow(stored: StoredWindow): void {
    counters.window_writes++;
    super.storeWindow(stored);
  }
}

export class JobDO extends BaseJobDO {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, instrument(env));
    counters.job_objects_started++;
  }

  override async alarm(): Promise<void> {
    counters.job_alarms++;
    await super.alarm();
  }
}

export class PoolDO extends BasePoolDO {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, instrument(env));
  }
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    if (new URL(request.url).pathname === "/__bench/counters") {
      const snapshot = { ...counters };
      counters.do_calls = counters.d1_reads = counters.d1_writes = counters.window_writes = 0;
      counters.job_objects_started = counters.job_alarms = 0;
      counters.by_method = {};
      return Response.json(snapshot);
    }
    return gateway.fetch(request, instrument(env), ctx);
  },
};
