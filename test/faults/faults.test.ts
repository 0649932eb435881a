/** A smaller run of the fault suite inside `npm test` (the full one: `npm run test:faults`). */
import { describe, expect, it } from "vitest";
import { runFaultSuite } from "./suite.ts";

describe("fault suite (small)", () => {
  it("keeps every promise under runner kills, ComfyUI death, receiver downtime, a stack restart and duplicates", async () => {
    const report = await runFaultSuite({
      jobs: Number(process.env.FAULT_JOBS ?? 60),
      rate: 10,
      log: (l) => console.log(l),
    });
    console.log(JSON.stringify(report));
    expect(report.statuses.unfinished).toBe(0);
    expect(report.terminal_events_not_one).toBe(0);
    expect(report.wrong_outputs).toBe(0);
    expect(report.orphans).toBe(0);
    expect(report.webhooks).toMatchObject({ bad_signatures: 0, undelivered: 0, jobs_missing_terminal_webhook: 0 });
    expect(report.faults.runner_kills).toBeGreaterThan(0);
    expect(report.faults.stack_restarts).toBe(1);
    expect(report.faults.duplicate_deliveries).toBeGreaterThan(0);
  }, 400_000);
});
