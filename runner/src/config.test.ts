import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, CREATE_TOKEN_HINT, loadConfig } from "./config.ts";
import { RUNNER_VERSION } from "./version.ts";

const BASE = { GATEWAY_URL: "https://edge.example.com/", RUNNER_TOKEN: "rt_0123456789abcdef" };

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("runner config", () => {
  it("applies defaults", () => {
    const c = loadConfig(BASE);
    expect(c).toEqual({
      gatewayUrl: "https://edge.example.com",
      runnerToken: "rt_0123456789abcdef",
      comfyUrls: ["http://127.0.0.1:8188"],
      runnerId: hostname(),
      maxInputBytes: 100 * 1024 * 1024,
      jobTimeoutS: 1800,
      metricsPort: 9464,
      metricsHost: "127.0.0.1",
      logLevel: "info",
      drainTimeoutS: 30,
      allowPrivateUrls: false,
      comfyFolders: [null],
      modelsDir: null,
      modelCacheBytes: 20 * 1024 ** 3,
    });
  });

  it("reads COMFYUI_MODELS_DIR and MODEL_CACHE_GB (docs/models.md)", () => {
    const c = loadConfig({ ...BASE, COMFYUI_MODELS_DIR: "/opt/ComfyUI/models/", MODEL_CACHE_GB: "1.5" });
    expect(c.modelsDir).toBe("/opt/ComfyUI/models");
    expect(c.modelCacheBytes).toBe(1.5 * 1024 ** 3);
    expect(problems({ ...BASE, MODEL_CACHE_GB: "lots" })[0]).toContain("MODEL_CACHE_GB must be a number");
    expect(problems({ ...BASE, COMFYUI_MODELS_DIR: "models" })[0]).toContain("COMFYUI_MODELS_DIR must be absolute");
    expect(problems({ ...BASE, COMFYUI_MODELS_DIR: "/a,/b" })[0]).toContain("COMFYUI_MODELS_DIR must be one path");
  });

  it("reads ComfyUI's folders: COMFYUI_DIR for all or one per URL, single folders overridden", () => {
    expect(loadConfig({ ...BASE, COMFYUI_DIR: "/opt/ComfyUI/" }).comfyFolders).toEqual([
      { input: "/opt/ComfyUI/input", output: "/opt/ComfyUI/output", temp: "/opt/ComfyUI/temp" },
    ]);
    const two = loadConfig({
      ...BASE,
      COMFYUI_URL: "http://gpu0:8188,http://gpu1:8188",
      COMFYUI_DIR: "/c0, /c1",
      COMFYUI_OUTPUT_DIR: "/shared/out",
    });
    expect(two.comfyFolders).toEqual([
      { input: "/c0/input", output: "/shared/out", temp: "/c0/temp" },
      { input: "/c1/input", output: "/shared/out", temp: "/c1/temp" },
    ]);
    expect(
      loadConfig({ ...BASE, COMFYUI_INPUT_DIR: "/i", COMFYUI_OUTPUT_DIR: "/o", COMFYUI_TEMP_DIR: "/t" }).comfyFolders,
    ).toEqual([{ input: "/i", output: "/o", temp: "/t" }]);
    expect(problems({ ...BASE, COMFYUI_DIR: "ComfyUI" })[0]).toContain("COMFYUI_DIR must be absolute paths");
    expect(problems({ ...BASE, COMFYUI_OUTPUT_DIR: "/o" })[0]).toContain(
      "COMFYUI_INPUT_DIR, COMFYUI_TEMP_DIR not set: set COMFYUI_DIR",
    );
    expect(problems({ ...BASE, COMFYUI_DIR: "/a,/b" })[0]).toContain(
      "COMFYUI_DIR lists 2 paths for 1 COMFYUI_URL entries",
    );
  });

  it("reads every variable; COMFYUI_URL is comma-separated, one slot each", () => {
    const c = loadConfig({
      ...BASE,
      COMFYUI_URL: "http://gpu0:8188/, http://gpu1:8188",
      RUNNER_ID: "host-a",
      MAX_INPUT_BYTES: "1000",
      JOB_TIMEOUT_S: "60",
      METRICS_PORT: "0",
      METRICS_HOST: "0.0.0.0",
      LOG_LEVEL: "DEBUG",
      DRAIN_TIMEOUT_S: "5",
      ALLOW_PRIVATE_URLS: "true",
    });
    expect(c.comfyUrls).toEqual(["http://gpu0:8188", "http://gpu1:8188"]);
    expect(c).toMatchObject({
      runnerId: "host-a",
      maxInputBytes: 1000,
      jobTimeoutS: 60,
      metricsPort: 0,
      metricsHost: "0.0.0.0",
      logLevel: "debug",
      drainTimeoutS: 5,
      allowPrivateUrls: true,
    });
  });

  it("fails fast naming each bad variable", () => {
    expect(problems({}).join("\n")).toMatch(/GATEWAY_URL is required[\s\S]*RUNNER_TOKEN is required/);
    // The token hint is the command the README documents (a checkout's CLI; `npx comfy-edge` never).
    expect(problems({ GATEWAY_URL: "https://x" }).join("\n")).toContain(CREATE_TOKEN_HINT);
    expect(CREATE_TOKEN_HINT).not.toContain("npx");
    expect(readFileSync(new URL("../../README.md", import.meta.url), "utf8")).toContain(
      CREATE_TOKEN_HINT.replace(" <pool>", ""),
    );
    expect(problems({ ...BASE, GATEWAY_URL: "ftp://x" })[0]).toContain("GATEWAY_URL must be an http(s) URL");
    expect(problems({ ...BASE, GATEWAY_URL: "https://u:p@x" })[0]).toContain("GATEWAY_URL");
    expect(problems({ ...BASE, COMFYUI_URL: "http://ok:1,nope" })[0]).toContain('COMFYUI_URL entry "nope"');
    expect(problems({ ...BASE, JOB_TIMEOUT_S: "0" })[0]).toContain("JOB_TIMEOUT_S must be an integer");
    expect(problems({ ...BASE, JOB_TIMEOUT_S: "1.5" })[0]).toContain("JOB_TIMEOUT_S");
    expect(problems({ ...BASE, MAX_INPUT_BYTES: "lots" })[0]).toContain("MAX_INPUT_BYTES");
    expect(problems({ ...BASE, METRICS_PORT: "70000" })[0]).toContain("METRICS_PORT");
    expect(problems({ ...BASE, LOG_LEVEL: "loud" })[0]).toContain("LOG_LEVEL must be one of debug, info, warn, error");
    expect(problems({ ...BASE, RUNNER_ID: "has space" })[0]).toContain("RUNNER_ID");
    expect(problems({ ...BASE, ALLOW_PRIVATE_URLS: "maybe" })[0]).toContain("ALLOW_PRIVATE_URLS");
    expect(problems({ ...BASE, RUNNER_TOKEN: " " })[0]).toContain("RUNNER_TOKEN");
  });

  it("never puts the token in an error message", () => {
    const all = problems({ ...BASE, RUNNER_TOKEN: "secret value", JOB_TIMEOUT_S: "x" }).join("\n");
    expect(all).not.toContain("secret value");
  });

  it("reports the package version", () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8"));
    expect(RUNNER_VERSION).toBe(pkg.version);
  });
});
