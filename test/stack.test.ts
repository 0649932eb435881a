import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "./harness/stack.ts";

describe("local stack on workerd (programmatic Miniflare)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  }, 60_000);
  afterAll(() => stack?.close());

  it("serves the gateway over real HTTP with D1 migrated", async () => {
    const res = await fetch(`${stack.url}/health`);
    expect(res.status).toBe(200);
    const tenant = await stack.admin<{ id: string }>("/admin/v1/tenants", { name: "t" });
    expect(tenant.id).toMatch(/^ten_/);
  });
});
