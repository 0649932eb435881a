import { describe, expect, it } from "vitest";
import { llmStartupReport } from "./startup.ts";

const none = () => false;

describe("npm start's LLM upstream report", () => {
  it("lists the upstreams in the order they are tried, with their models and keys", () => {
    const report = llmStartupReport(
      {
        LLM_UPSTREAMS: JSON.stringify([
          { name: "cloud", base_url: "https://llm.example.com/v1/", models: ["gpt-*"], api_key_secret: "CLOUD_KEY" },
          { name: "local", base_url: "http://127.0.0.1:11434/v1", models: ["llama3.1:8b"], priority: -1 },
        ]),
      },
      (name) => name === "CLOUD_KEY",
    );
    expect(report).toEqual({
      ok: true,
      lines: [
        "LLM proxy: 2 upstreams, tried in this order:",
        "  local: http://127.0.0.1:11434/v1 (models llama3.1:8b; no key; 2 retries)",
        "  cloud: https://llm.example.com/v1 (models gpt-*; key from CLOUD_KEY; 2 retries)",
      ],
    });
  });

  it("warns about a key secret that is not set", () => {
    const report = llmStartupReport(
      {
        LLM_UPSTREAMS: '[{"name":"cloud","base_url":"https://llm.example.com/v1","models":["*"],"api_key_secret":"K"}]',
      },
      none,
    );
    expect(report.ok && report.lines[2]).toContain("WARNING: K is not set");
  });

  it("says when nothing is configured, and reads LLM_UPSTREAM_URL", () => {
    expect(llmStartupReport({ LLM_UPSTREAMS: "", LLM_UPSTREAM_URL: "" }, none)).toMatchObject({
      ok: true,
      lines: [expect.stringContaining("no upstream configured")],
    });
    expect(llmStartupReport({ LLM_UPSTREAM_URL: "http://127.0.0.1:11434/v1" }, none)).toMatchObject({
      ok: true,
      lines: [expect.any(String), "  default: http://127.0.0.1:11434/v1 (models *; no key; 2 retries)"],
    });
  });

  it("refuses a broken configuration with the place and the problem", () => {
    expect(llmStartupReport({ LLM_UPSTREAMS: "[{" }, none)).toMatchObject({
      ok: false,
      reason: expect.stringContaining("LLM_UPSTREAMS is not valid JSON"),
    });
    expect(llmStartupReport({ LLM_UPSTREAMS: '[{"name":"a","base_url":"ftp://x","models":["*"]}]' }, none)).toEqual({
      ok: false,
      reason: expect.stringMatching(/^LLM_UPSTREAMS is invalid at 0\.base_url: .*See docs\/llm\.md\.$/),
    });
    expect(llmStartupReport({ LLM_UPSTREAM_URL: "not a url" }, none)).toMatchObject({
      ok: false,
      reason: expect.stringContaining("LLM_UPSTREAM_URL is invalid"),
    });
  });
});
