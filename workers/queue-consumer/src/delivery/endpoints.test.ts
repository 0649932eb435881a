import { describe, expect, it } from "vitest";
import { DEFAULT_ENDPOINT_LIMITS, EndpointHealth } from "./endpoints.ts";

const URL_A = "https://a.example.com/hook";

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function fail(health: EndpointHealth, url = URL_A) {
  const ticket = health.admit(url);
  if (!ticket.ok) throw new Error(`refused: ${ticket.reason}`);
  ticket.done({ kind: "no_answer", error: "timeout" });
}

describe("EndpointHealth", () => {
  it("opens after 3 failures in a row, probes once after the pause, reopens longer on a failed probe", () => {
    const c = clock();
    const health = new EndpointHealth(DEFAULT_ENDPOINT_LIMITS, c.now);
    fail(health);
    fail(health);
    expect(health.isOpen(URL_A)).toBe(false);
    fail(health);
    const refused = health.admit(URL_A);
    expect(refused).toMatchObject({ ok: false, retryAt: c.now() + 10_000 });
    expect(health.admit("https://b.example.com/x").ok).toBe(true); // other endpoints are not affected
    c.advance(10_000);
    const probe = health.admit(URL_A);
    expect(probe.ok).toBe(true);
    expect(health.admit(URL_A).ok).toBe(false); // one probe at a time
    if (probe.ok) probe.done({ kind: "no_answer", error: "timeout" });
    expect(health.admit(URL_A)).toMatchObject({ ok: false, retryAt: c.now() + 20_000 });
    c.advance(20_000);
    const second = health.admit(URL_A);
    if (second.ok) second.done({ kind: "answer", ms: 30, ok: true });
    expect(health.isOpen(URL_A)).toBe(false);
    expect(health.admit(URL_A).ok).toBe(true);
  });

  it("a quick error answer shows the endpoint is alive; a slow one counts as a failure", () => {
    const c = clock();
    const health = new EndpointHealth(DEFAULT_ENDPOINT_LIMITS, c.now);
    for (let i = 0; i < 5; i++) {
      const t = health.admit(URL_A);
      if (t.ok) t.done({ kind: "answer", ms: 20, ok: false });
    }
    expect(health.isOpen(URL_A)).toBe(false);
    for (let i = 0; i < 3; i++) {
      const t = health.admit(URL_A);
      if (t.ok) t.done({ kind: "answer", ms: 9_000, ok: false });
    }
    expect(health.isOpen(URL_A)).toBe(true);
  });

  it("attempts still in flight when the circuit opened do not extend the pause", () => {
    const c = clock();
    const health = new EndpointHealth(DEFAULT_ENDPOINT_LIMITS, c.now);
    const tickets = Array.from({ length: 6 }, () => health.admit(URL_A));
    for (const t of tickets) if (t.ok) t.done({ kind: "no_answer", error: "timeout" });
    expect(health.admit(URL_A)).toMatchObject({ ok: false, retryAt: c.now() + 10_000 });
    expect(health.inFlight(URL_A)).toBe(0);
  });

  it("does not let a batch wait for an endpoint whose last attempt outlived the answer wait, until it answers promptly", () => {
    const health = new EndpointHealth();
    const first = health.admit(URL_A);
    expect(first).toMatchObject({ ok: true, patient: true });
    if (first.ok) first.slow();
    const second = health.admit(URL_A);
    expect(second).toMatchObject({ ok: true, patient: false });
    if (first.ok) first.done({ kind: "answer", ms: 40, ok: true });
    expect(health.admit(URL_A)).toMatchObject({ ok: true, patient: true });
  });

  it("limits POSTs in flight only for an endpoint that has been slow", () => {
    const health = new EndpointHealth({ ...DEFAULT_ENDPOINT_LIMITS, maxInFlight: 2 });
    const burst = Array.from({ length: 5 }, () => health.admit(URL_A));
    expect(burst.every((t) => t.ok)).toBe(true); // a healthy endpoint takes a whole batch at once
    const [first] = burst;
    if (first?.ok) first.slow();
    expect(health.admit(URL_A)).toMatchObject({ ok: false, reason: expect.stringContaining("5 deliveries") });
  });

  it("keeps at most maxEndpoints endpoints, forgetting the least recently used", () => {
    const health = new EndpointHealth({ ...DEFAULT_ENDPOINT_LIMITS, maxEndpoints: 2 });
    const a = health.admit("https://a.example.com/");
    health.admit("https://b.example.com/");
    health.admit("https://c.example.com/"); // evicts a
    expect(health.inFlight("https://a.example.com/")).toBe(0);
    expect(health.inFlight("https://c.example.com/")).toBe(1);
    if (a.ok) a.done({ kind: "answer", ms: 1, ok: true }); // a late report of a forgotten endpoint is harmless
    expect(health.inFlight("https://a.example.com/")).toBe(0);
  });
});
