/** Canceling a job twice: the second answer is a clear 409 (issue 12.9). */
import { describe, expect, it } from "vitest";
import { call, createKey, createPool, createTenant, expectError, json } from "../../test/helpers.ts";

describe("POST /v1/jobs/:id/cancel", () => {
  it("cancels a queued job, then answers 409 job_finished saying it is already canceled", async () => {
    expect((await createPool("cancel-twice")).status).toBe(201);
    const tenant = await createTenant({ default_pool: "cancel-twice" });
    const { key } = await createKey(tenant.id);
    const workflow = {
      "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "x" } },
    };
    const job = await json<{ id: string }>(await call("/v1/jobs", { token: key, body: { workflow } }));
    const first = await call(`/v1/jobs/${job.id}/cancel`, { token: key, method: "POST" });
    expect(first.status).toBe(202);
    await expect
      .poll(async () => (await json<{ status: string }>(await call(`/v1/jobs/${job.id}`, { token: key }))).status)
      .toBe("canceled");
    const second = await expectError(
      await call(`/v1/jobs/${job.id}/cancel`, { token: key, method: "POST" }),
      409,
      "job_finished",
    );
    expect(second.error.message).toBe("The job is already canceled; only queued or running jobs can be canceled.");
  });
});
