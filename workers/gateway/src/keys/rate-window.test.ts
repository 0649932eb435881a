import { describe, expect, it } from "vitest";
import { admit, EMPTY_WINDOW, type RateWindow, reservationStep, resumeWindow, WINDOW_MS } from "./rate-window.ts";

/** Runs `n` requests at `now`, evicting (resuming from the stored copy) after each when `evict`. */
function run(n: number, limit: number, evict: boolean) {
  let window: RateWindow = EMPTY_WINDOW;
  let stored: { start: number; count: number } | undefined;
  let allowed = 0;
  let writes = 0;
  for (let i = 0; i < n; i++) {
    const a = admit(window, 1_000 + i, limit, reservationStep(limit));
    window = a.window;
    if (a.allowed) allowed++;
    if (a.store) {
      stored = a.store;
      writes++;
    }
    if (evict) window = resumeWindow(stored);
  }
  return { allowed, writes, window };
}

describe("rate window", () => {
  it("writes on every allowed request for small limits and none once limited", () => {
    expect(run(8, 5, false)).toMatchObject({ allowed: 5, writes: 5 });
  });

  it("writes once per reservation step for large limits", () => {
    expect(reservationStep(600)).toBe(6);
    expect(run(600, 600, false)).toMatchObject({ allowed: 600, writes: 100 });
    expect(run(10_000, 1_000_000, false).writes).toBe(1);
  });

  it("never lets more than the limit through, whatever the evictions", () => {
    for (const limit of [1, 5, 199, 600, 5_000]) {
      const { allowed } = run(limit * 2, limit, true);
      expect(allowed).toBeLessThanOrEqual(limit);
      // An eviction costs at most one reservation step of the window.
      expect(allowed).toBeGreaterThan(limit / reservationStep(limit) - 1);
    }
    expect(run(10, 5, true).allowed).toBe(5);
  });

  it("starts a new window once the old one has ended, with a new stored copy", () => {
    const full = admit({ start: 0, count: 5, reserved: 5 }, WINDOW_MS - 1, 5, 1);
    expect(full).toMatchObject({ allowed: false, store: null });
    const next = admit(full.window, WINDOW_MS, 5, 1);
    expect(next).toMatchObject({ allowed: true, store: { start: WINDOW_MS, count: 1 } });
  });

  it("resumes a stored window at its reservation", () => {
    expect(resumeWindow(undefined)).toEqual(EMPTY_WINDOW);
    expect(resumeWindow({ start: 7, count: 12 })).toEqual({ start: 7, count: 12, reserved: 12 });
  });
});
