import { env } from "cloudflare:test";
import { ConfigError } from "@comfy-edge/shared/config";
import { describe, expect, it } from "vitest";
import { createApp } from "./app.ts";
import { gatewayConfig, parseGatewayConfig } from "./config.ts";

describe("gateway config", () => {
  it("reads wrangler.toml's values; unset or empty means the default", () => {
    const cfg = parseGatewayConfig(env);
    expect(cfg.requestsPerMinute).toBe(600);
    expect(cfg.maxBodyBytes).toBe(16 * 1024 * 1024);
    expect([cfg.runnerLiveMs, parseGatewayConfig({ RUNNER_LIVE_S: "2" }).runnerLiveMs]).toEqual([90_000, 2000]);
    expect(cfg.jobs).toMatchObject({ leaseMs: 60_000, maxAttempts: 3, redispatchBaseMs: 30_000, maxOutputs: 100 });
    expect(parseGatewayConfig({ LEASE_DURATION_S: "", MAX_ATTEMPTS: " 5 " }).jobs).toMatchObject({
      leaseMs: 60_000,
      maxAttempts: 5,
    });
  });

  it("fails loudly with the variable's name, what was expected and what came", () => {
    expect(() => parseGatewayConfig({ LEASE_DURATION_S: "60s" })).toThrow(
      'LEASE_DURATION_S: expected a whole number of seconds, got "60s"',
    );
    expect(() => parseGatewayConfig({ MAX_BODY_BYTES: "1e6" })).toThrow(/^MAX_BODY_BYTES: expected a whole number/);
    expect(() => parseGatewayConfig({ MAX_ATTEMPTS: "0" })).toThrow(ConfigError);
    expect(() => parseGatewayConfig({ DEFAULT_REQUESTS_PER_MINUTE: "-1" })).toThrow(/DEFAULT_REQUESTS_PER_MINUTE/);
  });

  it("is parsed once per env object, a failure included", () => {
    const vars = { ...env };
    expect(gatewayConfig(vars)).toBe(gatewayConfig(vars));
    const bad = { ...env, MAX_RUN_S: "1h" };
    const first = (() => {
      try {
        gatewayConfig(bad);
      } catch (err) {
        return err;
      }
    })();
    expect(first).toBeInstanceOf(ConfigError);
    expect(() => gatewayConfig(bad)).toThrow(first as Error);
  });

  it("a request to a misconfigured deployment gets 503 misconfigured naming the variable, not its value", async () => {
    const res = await createApp().request("/v1/jobs", {}, { ...env, LEASE_DURATION_S: "60s" });
    expect(res.status).toBe(503);
    const body = await res.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe("misconfigured");
    expect(body.error.message).toContain("LEASE_DURATION_S");
    expect(body.error.message).not.toContain("60s");
    expect(res.headers.get("x-should-retry")).toBe("false");
  });
});
