import { describe, expect, it } from "vitest";
import { ProgressThrottle } from "./progress.ts";

const p = (value: number, max = 10, node_id: string | null = "3") => ({ value, max, node_id });

describe("ProgressThrottle (at most 2 per second, ending on the latest value)", () => {
  it("sends the first value at once and holds the rest until 500 ms passed", () => {
    const t = new ProgressThrottle(500);
    expect(t.offer(p(1), 1000)).toEqual(p(1));
    expect(t.offer(p(2), 1100)).toBeNull();
    expect(t.offer(p(3), 1200)).toBeNull();
    expect(t.due()).toBe(1500);
    expect(t.flush(1400)).toBeNull();
    expect(t.flush(1500)).toEqual(p(3));
    expect(t.due()).toBeNull();
    expect(t.offer(p(4), 2100)).toEqual(p(4));
  });

  it("never sends more than 2 per second for a fast stream", () => {
    const t = new ProgressThrottle(500);
    const sent: number[] = [];
    for (let ms = 0; ms < 10_000; ms += 7) {
      const v = t.offer(p(ms), ms) ?? t.flush(ms);
      if (v) sent.push(ms);
    }
    expect(sent.length).toBeLessThanOrEqual(21);
    for (let i = 1; i < sent.length; i++) expect(sent[i]! - sent[i - 1]!).toBeGreaterThanOrEqual(500);
  });

  it("skips repeats and drops the kept value on clear", () => {
    const t = new ProgressThrottle(500);
    expect(t.offer(p(1), 0)).toEqual(p(1));
    expect(t.offer(p(1), 600)).toBeNull();
    expect(t.offer(p(2), 700)).toEqual(p(2));
    expect(t.offer(p(3), 800)).toBeNull();
    t.clear();
    expect(t.flush(5000)).toBeNull();
  });
});
