import { QUEUE_MAX_DELAY_S } from "@comfy-edge/shared/backoff";
import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_DELAYS_S, parseConsumerConfig } from "../config.ts";
import { isLastAttempt, webhookRetryDelay } from "./retry.ts";

const delays = (raw: string | undefined) => parseConsumerConfig({ WEBHOOK_RETRY_DELAYS_S: raw }).webhookDelaysS;

describe("webhook retry schedule", () => {
  it("parses WEBHOOK_RETRY_DELAYS_S; unset or empty means the default 24 h schedule", () => {
    expect(delays("1, 2,3")).toEqual([1, 2, 3]);
    expect(delays(undefined)).toEqual(DEFAULT_RETRY_DELAYS_S);
    expect(delays("")).toEqual(DEFAULT_RETRY_DELAYS_S);
    // A bad list is an operator error naming the variable (issue 13.3), no longer a silent default.
    expect(() => delays(" , x")).toThrow(/^WEBHOOK_RETRY_DELAYS_S: expected a comma-separated list/);
    expect(() => delays("30,86400")).toThrow(/WEBHOOK_RETRY_DELAYS_S/);
  });

  it("jitters by +-20% and stops after the last delay", () => {
    expect(webhookRetryDelay([100], 1, () => 0)).toBe(80);
    expect(webhookRetryDelay([100], 1, () => 1)).toBe(120);
    expect(webhookRetryDelay([1], 1, () => 0)).toBe(1);
    expect(isLastAttempt([1, 2], 2)).toBe(false);
    expect(isLastAttempt([1, 2], 3)).toBe(true);
  });

  it("never asks Queues for more than 12 h, the jitter included (the default's last delay is 12 h)", () => {
    const last = DEFAULT_RETRY_DELAYS_S.length;
    expect(webhookRetryDelay(DEFAULT_RETRY_DELAYS_S, last, () => 1)).toBe(QUEUE_MAX_DELAY_S);
  });
});
