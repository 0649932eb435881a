/** The local R2 S3 endpoint (on the API port) accepts only the stack's own per-run credentials. */
import { AwsClient } from "aws4fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WELL_KNOWN_S3 } from "../../scripts/dev-config.mjs";
import { type Stack, startStack } from "../harness/stack.ts";

describe("local object store", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
    const bucket = await stack.files();
    await (bucket as unknown as { put(k: string, v: string): Promise<unknown> }).put("outputs/private.txt", "secret");
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  const list = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
    new AwsClient({ ...credentials, service: "s3", region: "auto" }).fetch(
      `${stack.url}/cdn-cgi/local/r2/s3/comfy-edge-files?list-type=2`,
    );

  it("refuses the well-known pair that used to be committed", async () => {
    const res = await list(WELL_KNOWN_S3);
    const body = await res.text();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(body).not.toContain("private.txt");
  });

  it("refuses a request without credentials", async () => {
    const res = await fetch(`${stack.url}/cdn-cgi/local/r2/s3/comfy-edge-files?list-type=2`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(await res.text()).not.toContain("private.txt");
  });

  it("answers the stack's own credentials", async () => {
    const res = await list(stack.s3Credentials);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("outputs/private.txt");
  });
});
