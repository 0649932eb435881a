/**
 * The jobs benches' load: `total` trivial jobs through submit -> lease -> success, with `submitters` clients
 * submitting and `runners` instant scripted runners leasing and reporting success. Counts each job's
 * successful terminal reports, so a caller can check that no job was lost or run twice.
 */

import { api, ScriptedRunner, TRIVIAL_WORKFLOW } from "../../test/harness/api.ts";
import type { Stack } from "../../test/harness/stack.ts";

export interface DriveOptions {
  /** An API key with the `jobs` scope. */
  key: string;
  /** A runner token of the pool. */
  token: string;
  total: number;
  /** The job's `pool`; none = the tenant's default. */
  pool?: string;
  runners?: number;
  submitters?: number;
  /** Runner id prefix (runner i is `<prefix>-<i>`). */
  prefix?: string;
}

export interface DriveResult {
  seconds: number;
  /** Job id -> successful terminal reports (1 each when nothing was duplicated). */
  outcomes: Map<string, number>;
}

export async function driveJobs(stack: Stack, o: DriveOptions): Promise<DriveResult> {
  const call = api(stack, o.key);
  const body = o.pool ? { workflow: TRIVIAL_WORKFLOW, pool: o.pool } : { workflow: TRIVIAL_WORKFLOW };
  const outcomes = new Map<string, number>();
  let submitted = 0;
  let finished = 0;
  const submitLoop = async () => {
    while (submitted < o.total) {
      submitted++;
      const r = await call("/v1/jobs", { body });
      if (r.status !== 202) throw new Error(`submit ${r.status} ${JSON.stringify(r.json)}`);
    }
  };
  const runLoop = async (i: number) => {
    const r = new ScriptedRunner(stack, o.token, `${o.prefix ?? "bench"}-${i}`);
    while (finished < o.total) {
      const g = await r.lease(1);
      if (!g) continue;
      const res = await r.event(g.lease.id, { type: "succeeded", outputs: [] });
      if (res.status === 200) {
        outcomes.set(g.job.id, (outcomes.get(g.job.id) ?? 0) + 1);
        finished++;
      }
    }
  };
  const start = performance.now();
  await Promise.all([
    ...Array.from({ length: o.submitters ?? 8 }, submitLoop),
    ...Array.from({ length: o.runners ?? 8 }, (_, i) => runLoop(i)),
  ]);
  return { seconds: (performance.now() - start) / 1000, outcomes };
}
