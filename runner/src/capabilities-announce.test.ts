import { describe, expect, it } from "vitest";
import { CapabilityAnnouncements } from "./capabilities-announce.ts";

describe("CapabilityAnnouncements", () => {
  it("a change is announced once the gateway answers a lease built after it; earlier answers do not count", async () => {
    const a = new CapabilityAnnouncements();
    const order: string[] = [];
    const built = a.current; // a lease's report is built, then the files change
    a.changed();
    const waiting = a.whenAnnounced(new AbortController().signal).then(() => order.push("announced"));
    expect(a.isNew("d1")).toBe(true);
    a.acknowledged("d1", built); // answers the lease built before the change
    await Promise.resolve();
    expect(order).toEqual([]);
    expect(a.isNew("d1")).toBe(false);
    expect(a.isNew("d2")).toBe(true); // the rebuilt report goes with a short lease
    order.push("acknowledged d2");
    a.acknowledged("d2", a.current);
    await waiting;
    expect(order).toEqual(["acknowledged d2", "announced"]);
  });

  it("an unchanged report counts as announced before its lease; waiting without a change resolves at once", async () => {
    const a = new CapabilityAnnouncements();
    a.acknowledged("d1", a.current);
    await a.whenAnnounced(new AbortController().signal);
    a.changed();
    expect(a.isNew("d1")).toBe(false); // the same report as before (e.g. a file ComfyUI does not list)
    a.announce(a.current);
    await a.whenAnnounced(new AbortController().signal);
  });

  it("the first lease is always new (also without a digest); waiting rejects when the signal aborts", async () => {
    const a = new CapabilityAnnouncements();
    expect(a.isNew(null)).toBe(true);
    const stop = new AbortController();
    const waiting = a.whenAnnounced(stop.signal);
    stop.abort(new Error("stopping"));
    await expect(waiting).rejects.toThrow("stopping");
  });
});
