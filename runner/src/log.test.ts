import { describe, expect, it } from "vitest";
import { createLogger, safeUrl, scrub } from "./log.ts";

describe("logs carry no secrets", () => {
  it("redacts the runner token and presigned URL signatures anywhere in a line", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "debug", secrets: ["rt_supersecret_token"], write: (l) => lines.push(l) });
    log.child({ job_id: "job_1" }).warn("upload failed", {
      url: "http://127.0.0.1:8787/cdn-cgi/local/r2/s3/b/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=ak%2F2026&X-Amz-Signature=abcdef123",
      error: new Error("Bearer rt_supersecret_token was refused"),
    });
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).not.toContain("rt_supersecret_token");
    expect(line).not.toContain("abcdef123");
    expect(line).not.toContain("ak%2F2026");
    const parsed = JSON.parse(line);
    expect(parsed).toMatchObject({ level: "warn", msg: "upload failed", job_id: "job_1" });
    expect(parsed.error.message).toBe("Bearer REDACTED was refused");
  });

  it("filters by level", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", write: (l) => lines.push(l) });
    log.debug("a");
    log.info("b");
    log.error("c");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["c"]);
    expect(log.enabled("info")).toBe(false);
  });

  it("safeUrl keeps only origin and path", () => {
    expect(safeUrl("https://u:p@r2.example.com/bucket/key?X-Amz-Signature=s")).toBe(
      "https://r2.example.com/bucket/key",
    );
    expect(safeUrl("nope")).toBe("<invalid url>");
    expect(scrub("?token=abc&x=1")).toBe("?token=REDACTED&x=1");
  });
});
