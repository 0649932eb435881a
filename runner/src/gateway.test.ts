import { backoffMs } from "@comfy-edge/shared/backoff";
import { describe, expect, it } from "vitest";
import { GatewayError, LeaseLostError, withRetry } from "./gateway.ts";

describe("withRetry (backoff with jitter from workers/shared/backoff.ts)", () => {
  it("retries retryable failures with growing, capped delays, then succeeds", async () => {
    const delays: number[] = [];
    let calls = 0;
    const value = await withRetry(
      async () => {
        calls += 1;
        if (calls < 4) throw new GatewayError(503, "http_503", "busy", true);
        return "ok";
      },
      { attempts: 5, baseMs: 1, maxMs: 4, onRetry: (_err, _attempt, delay) => delays.push(delay) },
    );
    expect(value).toBe("ok");
    expect(calls).toBe(4);
    expect(delays).toHaveLength(3);
    delays.forEach((d, i) => {
      const ceiling = Math.min(4, 2 ** i);
      expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
      expect(d).toBeLessThanOrEqual(ceiling);
    });
  });

  it("gives up after the attempts, and never retries a lost lease or a client error", async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw new GatewayError(0, "unreachable", "down", true);
        },
        { attempts: 3, baseMs: 1, maxMs: 1 },
      ),
    ).rejects.toThrow("down");
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw new LeaseLostError("gone");
        },
        { attempts: 3, baseMs: 1, maxMs: 1 },
      ),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect(calls).toBe(1);
    await expect(
      withRetry(
        async () => {
          throw new GatewayError(400, "invalid_request", "bad", false);
        },
        { attempts: 3 },
      ),
    ).rejects.toThrow("bad");
  });

  it("uses the shared backoff: full jitter within [ceiling/2, ceiling]", () => {
    expect(backoffMs(1, { baseMs: 200, maxMs: 5000, random: () => 0 })).toBe(100);
    expect(backoffMs(3, { baseMs: 200, maxMs: 5000, random: () => 0.999999 })).toBe(800);
    expect(backoffMs(20, { baseMs: 200, maxMs: 5000, random: () => 1 })).toBe(5000);
  });
});
