import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_DELAYS_S, isLastAttempt, retryDelays, webhookRetryDelay } from "./retry.ts";

describe("webhook retry schedule", () => {
  it("parses WEBHOOK_RETRY_DELAYS_S; unset or empty means the default 24 h schedule", () => {
    expect(retryDelays("1, 2,3")).toEqual([1, 2, 3]);
    expect(retryDelays(undefined)).toEqual(DEFAULT_RETRY_DELAYS_S);
    expect(retryDelays("")).toEqual(DEFAULT_RETRY_DELAYS_S);
    expect(retryDelays(" , x")).toEqual(DEFAULT_RETRY_DELAYS_S);
  });

  it("jitters by +-20% and stops after the last delay", () => {
    expect(webhookRetryDelay([100], 1, () => 0)).toBe(80);
    expect(webhookRetryDelay([100], 1, () => 1)).toBe(120);
    expect(webhookRetryDelay([1], 1, () => 0)).toBe(1);
    expect(isLastAttempt([1, 2], 2)).toBe(false);
    expect(isLastAttempt([1, 2], 3)).toBe(true);
  });
});
