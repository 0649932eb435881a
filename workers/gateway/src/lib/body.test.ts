/** Schema failures say what was expected and what came, through every route that parses input (issue 12.3). */
import { describe, expect, it } from "vitest";
import { admin, call, createKey, createPool, createTenant, expectError } from "../../test/helpers.ts";
import { describeValue, valueAt } from "./issue-message.ts";

async function key(): Promise<string> {
  const tenant = await createTenant();
  return (await createKey(tenant.id)).key;
}

const messages = [{ role: "user", content: "hi" }];

describe("schema error messages", () => {
  it("chat: a wrong-type model or temperature names the expected type and the value sent", async () => {
    const k = await key();
    const model = await expectError(
      await call("/v1/chat/completions", { token: k, body: { model: 5, messages } }),
      400,
      "invalid_request",
    );
    expect(model.error.param).toBe("model");
    expect(model.error.message).toBe("model: expected string, got number 5");
    const temperature = await expectError(
      await call("/v1/chat/completions", { token: k, body: { model: "m", messages, temperature: "0" } }),
      400,
      "invalid_request",
    );
    expect(temperature.error.message).toBe('temperature: expected number, got string "0"');
    const stop = await expectError(
      await call("/v1/chat/completions", { token: k, body: { model: "m", messages, stop: 7 } }),
      400,
      "invalid_request",
    );
    expect(stop.error.message).toBe("stop: expected string or array, got number 7");
    const missing = await expectError(
      await call("/v1/chat/completions", { token: k, body: { messages } }),
      400,
      "invalid_request",
    );
    expect(missing.error.message).toBe("model: is required");
  });

  it("jobs: a workflow that is not an object, and ?limit=abc", async () => {
    const k = await key();
    const wf = await expectError(
      await call("/v1/jobs", { token: k, body: { workflow: "abc" } }),
      400,
      "invalid_request",
    );
    expect(wf.error.param).toBe("workflow");
    expect(wf.error.message).toBe('workflow: expected object, got string "abc"');
    const limit = await expectError(await call("/v1/jobs?limit=abc", { token: k }), 400, "invalid_request");
    expect(limit.error.param).toBe("limit");
    expect(limit.error.message).toBe('limit: expected number, got string "abc"');
    const range = await expectError(await call("/v1/jobs?limit=500", { token: k }), 400, "invalid_request");
    expect(range.error.message).toBe('limit: Too big: expected number to be <=100, got string "500"');
  });

  it("admin: PATCH with a string where a list belongs, and a bad pool name", async () => {
    const tenant = await createTenant();
    const res = await admin(`/admin/v1/tenants/${tenant.id}`, {
      method: "PATCH",
      body: { image_url_allowlist: "images.example.com" },
    });
    const err = await expectError(res, 400, "invalid_request");
    expect(err.error.param).toBe("image_url_allowlist");
    expect(err.error.message).toBe('image_url_allowlist: expected array, got string "images.example.com"');
    const pool = await expectError(await createPool("Bad Name"), 400, "invalid_request");
    expect(pool.error.message).toContain('got string "Bad Name"');
    const nested = await expectError(
      await admin("/admin/v1/tenants", { body: { name: "n", limits: { max_queued_jobs: "5" } } }),
      400,
      "invalid_request",
    );
    expect(nested.error.message).toBe('limits.max_queued_jobs: expected number, got string "5"');
  });

  it("describes values compactly", () => {
    expect(describeValue(null)).toBe("null");
    expect(describeValue([1, 2])).toBe("array of 2");
    expect(describeValue({})).toBe("object");
    expect(describeValue(true)).toBe("boolean true");
    expect(describeValue("x".repeat(50))).toBe(`string "${"x".repeat(40)}..."`);
    expect(valueAt({ a: [{ b: 1 }] }, ["a", 0, "b"])).toEqual({ found: true, value: 1 });
    expect(valueAt({ a: [] }, ["a", 0])).toEqual({ found: false, value: undefined });
  });
});
