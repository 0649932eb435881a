import { describe, expect, it } from "vitest";
import { callerKey, callerOf, isExpectedOutcome, isLongPoll, routeCategory, tenantFilter } from "./classify.ts";

describe("request classification for monitoring", () => {
  it("puts routes in their category by pattern", () => {
    expect(routeCategory("/runner/v1/lease")).toBe("runner");
    expect(routeCategory("/runner/v1/leases/:id/cancel-wait")).toBe("runner");
    expect(routeCategory("/admin/v1/stats")).toBe("admin");
    expect(routeCategory("/v1/jobs/:id")).toBe("api");
    expect(routeCategory("(unmatched)")).toBe("api");
    expect(routeCategory("/openapi.json")).toBe("api");
  });

  it("marks the runner's two long polls only", () => {
    expect(isLongPoll("POST", "/runner/v1/lease")).toBe(true);
    expect(isLongPoll("POST", "/runner/v1/leases/:id/cancel-wait")).toBe(true);
    expect(isLongPoll("POST", "/runner/v1/leases/:id/heartbeat")).toBe(false);
    expect(isLongPoll("GET", "/v1/jobs/:id/events")).toBe(false);
  });

  it("counts the cancel-wait's lease_lost and the lease's capabilities_required as expected, nothing else", () => {
    const cw = "/runner/v1/leases/:id/cancel-wait";
    expect(isExpectedOutcome("POST", cw, 409, "lease_lost")).toBe(true);
    expect(isExpectedOutcome("POST", "/runner/v1/lease", 409, "capabilities_required")).toBe(true);
    // The same code elsewhere is a real loss of the lease.
    expect(isExpectedOutcome("POST", "/runner/v1/leases/:id/heartbeat", 409, "lease_lost")).toBe(false);
    expect(isExpectedOutcome("POST", "/runner/v1/leases/:id/events", 409, "lease_lost")).toBe(false);
    expect(isExpectedOutcome("POST", cw, 404, "lease_not_found")).toBe(false);
    expect(isExpectedOutcome("POST", "/runner/v1/lease", 409, "lease_abandoned")).toBe(false);
    expect(isExpectedOutcome("POST", cw, 409, null)).toBe(false);
  });

  it("labels callers without a tenant, and maps the labels back", () => {
    expect(callerKey("ten_a", 200, "/v1/me")).toBe("ten_a");
    expect(callerKey("ten_a", 401, "/v1/me")).toBe("ten_a");
    expect(callerOf(callerKey(undefined, 401, "/v1/me"))).toEqual({ tenant_id: null, caller: "unauthenticated" });
    expect(callerOf(callerKey(undefined, 401, "/runner/v1/lease"))).toEqual({
      tenant_id: null,
      caller: "unauthenticated",
    });
    expect(callerOf(callerKey(undefined, 200, "/runner/v1/lease"))).toEqual({ tenant_id: null, caller: "runner" });
    expect(callerOf(callerKey(undefined, 200, "/admin/v1/stats"))).toEqual({ tenant_id: null, caller: "admin" });
    expect(callerOf(callerKey(undefined, 200, "/openapi.json"))).toEqual({ tenant_id: null, caller: "no_key" });
    expect(callerOf("ten_a")).toEqual({ tenant_id: "ten_a", caller: "tenant" });
    expect(tenantFilter("unauthenticated").params).toEqual(["(unauthenticated)"]);
    expect(tenantFilter("ten_a").params).toEqual(["ten_a"]);
    expect(tenantFilter("-").params).toEqual([]);
  });
});
