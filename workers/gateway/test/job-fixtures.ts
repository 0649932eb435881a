/**
 * Job Durable Object fixtures for workers tests: a job's create input with defaults, and a fresh job object on the
 * real JOBS namespace whose internals (clock, outbox flush, SQLite storage) a test can reach through
 * runInDurableObject. The pool tests (src/pools/*.test.ts) create their jobs with `jobInput` too.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { JobDO } from "../src/jobs/job-do.ts";
import { type JobApi, jobStubById } from "../src/jobs/public.ts";
import type { CreateJobInput } from "../src/jobs/state.ts";

/** The smallest workflow a job object accepts (it does not run here). */
export const SAVE_ONLY_WORKFLOW = { "1": { class_type: "SaveImage", inputs: { filename_prefix: "x" } } };

/** A job's create input: tenant `ten_test`, pool `local`, no limits, webhook or idempotency unless `extra` says. */
export function jobInput(id: string, extra: Partial<CreateJobInput> = {}): CreateJobInput {
  return {
    id,
    tenant_id: "ten_test",
    key_id: "key_test",
    pool: "local",
    workflow: SAVE_ONLY_WORKFLOW,
    output: null,
    timeout_s: null,
    metadata: {},
    inputs: [],
    max_running: null,
    queue_timeout_s: 3600,
    image_allowlist: null,
    webhook: null,
    idempotency: null,
    origin: null,
    max_run_s: null,
    max_queued: null,
    ...extra,
  };
}

/** What tests reach inside a job object (its private members). */
export interface JobInternals {
  env: Env;
  now: () => number;
  flush(): Promise<void>;
  ctx: DurableObjectState;
}

export interface JobObject {
  jobId: string;
  /** The job's stub: its RPC surface with its declared types. */
  api: JobApi;
  /** Runs `fn` inside the object (its clock set first, when the fixture has one). */
  inside<T>(fn: (job: JobDO, internals: JobInternals) => Promise<T>): Promise<T>;
  /** Moves the fixture's clock (only with `clock`). */
  at(ms: number): void;
  /** Runs the object's alarm now (at the fixture's clock, when it has one); false when none was set. */
  alarm(): Promise<boolean>;
}

/** A fresh job object. With `clock`, the object's `now` is the fixture's clock, which `at(ms)` moves. */
export function newJobObject(options: { clock?: number } = {}): JobObject {
  const id = env.JOBS.newUniqueId();
  const stub = env.JOBS.get(id);
  let clock = options.clock;
  const inside = <T>(fn: (job: JobDO, internals: JobInternals) => Promise<T>) =>
    runInDurableObject(stub, async (instance: JobDO) => {
      const internals = instance as unknown as JobInternals;
      if (clock !== undefined) internals.now = () => clock as number;
      return fn(instance, internals);
    });
  return {
    jobId: `job_${id.toString()}`,
    api: jobStubById(env.JOBS, id),
    inside,
    at: (ms) => {
      clock = ms;
    },
    alarm: async () => {
      if (clock !== undefined) await inside(async () => undefined); // the clock is set before the alarm reads it
      return runDurableObjectAlarm(stub);
    },
  };
}
