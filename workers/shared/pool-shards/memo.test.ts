/** The isolate memo of Cache API lookups: bounded by the value's age, per env object, forgettable, bounded in size. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { agedMemo, READ_AT_HEADER, readAtOf } from "./memo.ts";

describe("agedMemo", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it("keeps a value until ttl after it was read from its source, not after it was stored", () => {
    const memo = agedMemo<number>(30_000, 10);
    const env = {};
    memo.set(env, "p", 2, Date.now() - 10_000); // a cached entry read from D1 10 s ago
    expect(memo.get(env, "p")).toEqual({ value: 2 });
    vi.setSystemTime(1_000_000 + 19_999);
    expect(memo.get(env, "p")).toEqual({ value: 2 });
    vi.setSystemTime(1_000_000 + 20_000);
    expect(memo.get(env, "p")).toBeNull();
  });

  it("does not keep values without a read time, or read longer ago than the ttl", () => {
    const memo = agedMemo<string | null>(30_000, 10);
    const env = {};
    memo.set(env, "a", "x", null);
    memo.set(env, "b", null, Date.now() - 30_000);
    expect([memo.get(env, "a"), memo.get(env, "b")]).toEqual([null, null]);
    memo.set(env, "c", null, Date.now());
    expect(memo.get(env, "c")).toEqual({ value: null });
  });

  it("keeps one memo per env object, and forget drops an entry", () => {
    const memo = agedMemo<number>(30_000, 10);
    const [one, two] = [{}, {}];
    memo.set(one, "p", 1, Date.now());
    expect(memo.get(two, "p")).toBeNull();
    memo.forget(one, "p");
    expect(memo.get(one, "p")).toBeNull();
  });

  it("holds at most maxEntries, the least recently stored going first", () => {
    const memo = agedMemo<number>(30_000, 2);
    const env = {};
    for (const [k, v] of [
      ["a", 1],
      ["b", 2],
      ["c", 3],
    ] as const)
      memo.set(env, k, v, Date.now());
    expect([memo.get(env, "a"), memo.get(env, "b"), memo.get(env, "c")]).toEqual([null, { value: 2 }, { value: 3 }]);
  });

  it("reads the read time a cached response carries (none on entries of earlier versions)", () => {
    expect(readAtOf(new Response("2", { headers: { [READ_AT_HEADER]: "1234" } }))).toBe(1234);
    expect(readAtOf(new Response("2"))).toBeNull();
    expect(readAtOf(new Response("2", { headers: { [READ_AT_HEADER]: "soon" } }))).toBeNull();
  });
});
