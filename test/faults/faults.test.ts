/**
 * The fault suite inside `npm test`: 60 jobs by default. `npm run test:faults` runs this file with FAULT_JOBS=500
 * (and FAULT_RATE=25 submissions per second).
 */
import { describe, expect, it } from "vitest";
import { runFaultSuite } from "./suite.ts";

const jobs = Number(process.env.FAULT_JOBS ?? 60);

describe("fault suite", () => {
  it(
    `keeps every promise of ${jobs} jobs under runner kills, ComfyUI death, receiver downtime, a stack restart and duplicates`,
    async () => {
      const report = await runFaultSuite({
        jobs,
        rate: Number(process.env.FAULT_RATE ?? 10),
        log: (l) => console.log(l),
      });
      console.log(JSON.stringify(report, null, 2));
      expect(report.statuses.unfinished).toBe(0);
      expect(report.terminal_events_not_one).toBe(0);
      expect(report.wrong_outputs).toBe(0);
      expect(report.orphans).toBe(0);
      expect(report.webhooks).toMatchObject({ bad_signatures: 0, undelivered: 0, jobs_missing_terminal_webhook: 0 });
      expect(report.faults.runner_kills).toBeGreaterThan(0);
      expect(report.faults.stack_restarts).toBe(1);
      expect(report.faults.duplicate_deliveries).toBeGreaterThan(0);
      // A limit for hangs (the suite's own waits end in about 7 minutes at most), not a timing assertion.
    },
    Math.max(600_000, jobs * 2_000),
  );
});
