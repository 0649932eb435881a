import { describe, expect, it } from "vitest";
import {
  backoffMs,
  clampQueueDelayS,
  doublingMs,
  equalJitterMs,
  QUEUE_MAX_DELAY_S,
  queueDoublingS,
  scheduleCeilingS,
  scheduleDelayS,
} from "./backoff.ts";

describe("backoff strategies", () => {
  it("doubling: base * 2^(attempt-1), capped, attempt 0 treated as 1", () => {
    expect([1, 2, 3, 4].map((n) => doublingMs(n, 100, 1000))).toEqual([100, 200, 400, 800]);
    expect(doublingMs(5, 100, 1000)).toBe(1000);
    expect(doublingMs(0, 100, 1000)).toBe(100);
  });

  it("doubling as the runner polls /history for a finished prompt: 20 ms doubling, then 1 s between checks", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => doublingMs(n, 20, 1_000))).toEqual([
      20, 40, 80, 160, 320, 640, 1_000, 1_000,
    ]);
  });

  it("equal jitter: within [ceiling/2, ceiling]; backoffMs is the same strategy", () => {
    expect(equalJitterMs(1, { baseMs: 200, maxMs: 5000, random: () => 0 })).toBe(100);
    expect(equalJitterMs(3, { baseMs: 200, maxMs: 5000, random: () => 0.999999 })).toBe(800);
    expect(equalJitterMs(20, { baseMs: 200, maxMs: 5000, random: () => 1 })).toBe(5000);
    expect(backoffMs).toBe(equalJitterMs);
  });

  it("queue doubling: whole seconds, never past the Queues limit whatever max is asked for", () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => queueDoublingS(n, 2, 300))).toEqual([2, 2, 4, 8, 16, 32]);
    expect(queueDoublingS(12, 2, 60)).toBe(60);
    expect(queueDoublingS(40, 2, 10 ** 9)).toBe(QUEUE_MAX_DELAY_S);
    expect(clampQueueDelayS(0.2)).toBe(1);
    expect(clampQueueDelayS(10 ** 6)).toBe(QUEUE_MAX_DELAY_S);
  });

  it("schedule: one delay per retry, the last repeats, +-jitter, clamped to [1 s, 12 h]", () => {
    expect(scheduleDelayS([100], 1, { jitter: 0.2, random: () => 0 })).toBe(80);
    expect(scheduleDelayS([100], 1, { jitter: 0.2, random: () => 1 })).toBe(120);
    expect(scheduleDelayS([10, 20], 5, { jitter: 0, random: () => 0.5 })).toBe(20);
    expect(scheduleDelayS([1], 1, { jitter: 0.2, random: () => 0 })).toBe(1);
    // 12 h + 20% would pass the per-message delay limit: clamped.
    expect(scheduleDelayS([QUEUE_MAX_DELAY_S], 1, { jitter: 0.2, random: () => 1 })).toBe(QUEUE_MAX_DELAY_S);
    expect(scheduleCeilingS([30, QUEUE_MAX_DELAY_S], 0.2)).toBe(51_840);
  });
});
