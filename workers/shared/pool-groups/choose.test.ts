import { describe, expect, it } from "vitest";
import { distance, groupTarget, orderMembers, pickMember, regionContinent } from "./choose.ts";

describe("pool group choice (pure)", () => {
  it("maps region names to continents", () => {
    expect(["eu-west", "us-east-1", "ap-south", "NA", "weur", "sa-east", "au-1", "lab"].map(regionContinent)).toEqual([
      "EU",
      "NA",
      "AS",
      "NA",
      "EU",
      "SA",
      "OC",
      null,
    ]);
  });

  it("orders by colo, continent, then weight; the affinity wins over the request", () => {
    const members = [
      { pool: "a", region: "us-east", weight: 1 },
      { pool: "b", region: "eu-west", weight: 1 },
      { pool: "c", region: "FRA", weight: 1 },
      { pool: "d", region: null, weight: 9 },
    ];
    const pools = (near: Parameters<typeof orderMembers>[1]) => orderMembers(members, near).map((m) => m.pool);
    expect(pools({ continent: "EU", colo: "FRA" })).toEqual(["c", "b", "d", "a"]);
    expect(pools({ continent: "NA", colo: "IAD" })).toEqual(["a", "d", "b", "c"]);
    expect(pools({ continent: "EU", colo: "FRA", affinity: "us-east" })).toEqual(["a", "d", "b", "c"]);
    expect(distance("eu-central", { affinity: "eu-west" })).toBe(1);
  });

  it("picks the first live capable member within the threshold, else the smallest wait", () => {
    const s = (pool: string, live: boolean, capable: boolean, wait_s: number | null) => ({
      pool,
      live,
      capable,
      wait_s,
    });
    expect(pickMember([s("a", false, true, null), s("b", true, true, 50)], 60)?.pool).toBe("b");
    expect(pickMember([s("a", true, false, 0), s("b", true, true, 50)], 60)?.pool).toBe("b");
    expect(pickMember([s("a", true, true, 90), s("b", true, true, 70)], 60)?.pool).toBe("b");
    expect(pickMember([s("a", true, true, 90), s("b", true, true, 70)], null)?.pool).toBe("a");
    expect(pickMember([s("a", false, true, null)], null)).toBeNull();
    expect([groupTarget("group:eu-us"), groupTarget("gpu-eu")]).toEqual(["eu-us", null]);
  });
});
