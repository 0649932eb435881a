import { describe, expect, it } from "vitest";
import { homeShard, jobShard, leaseOrder, perShardMaxRunning, shardName } from "./route.ts";

describe("pool shard routing", () => {
  it("a 1-shard pool is the pool's own object; shard i > 0 is <pool>#<i>", () => {
    expect(shardName("gpu", 0)).toBe("gpu");
    expect(shardName("gpu", 1)).toBe("gpu#1");
    expect(jobShard("job_anything", 1)).toBe(0);
    expect(homeShard("tok/runner", 1)).toBe(0);
  });

  it("spreads job ids over the shards, the same id always on the same shard", () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[jobShard(`job_${i.toString(36)}x${i * 7919}`, 4)]!++;
    for (const n of counts) expect(n).toBeGreaterThan(800); // 1000 each if uniform
    expect(jobShard("job_abc", 4)).toBe(jobShard("job_abc", 4));
  });

  it("asks every shard once, from the given start", () => {
    expect(leaseOrder(3, 0)).toEqual([0, 1, 2]);
    expect(leaseOrder(3, 2)).toEqual([2, 0, 1]);
    expect(leaseOrder(3, 5)).toEqual([2, 0, 1]);
  });

  it("enforces max_running per shard as its ceiling share", () => {
    expect(perShardMaxRunning(null, 2)).toBeNull();
    expect(perShardMaxRunning(5, 1)).toBe(5);
    expect(perShardMaxRunning(5, 2)).toBe(3);
    expect(perShardMaxRunning(1, 4)).toBe(1);
  });
});
