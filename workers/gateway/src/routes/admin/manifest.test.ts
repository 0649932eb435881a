import { describe, expect, it } from "vitest";
import { admin, call, createPool, createTenant, expectError, json } from "../../../test/helpers.ts";

const SHA = "ab".repeat(32);
const model = (filename: string) => ({
  url: "https://models.example.com/sd15.safetensors",
  folder: "checkpoints",
  filename,
  sha256: SHA.toUpperCase(),
  size: 1234,
});

async function runnerTokenFor(pool: string): Promise<string> {
  const res = await admin("/admin/v1/runner-tokens", { body: { pool } });
  return (await json<{ token: string }>(res)).token;
}

describe("pool model manifest", () => {
  it("stores a manifest, serves it to the pool's runners and changes the digest on re-sync", async () => {
    await createPool("models-a");
    const put = await admin("/admin/v1/pools/models-a/manifest", {
      method: "PUT",
      body: { models: [model("sd15.safetensors")], warmup: { workflow: { "1": { class_type: "X", inputs: {} } } } },
    });
    expect(put.status).toBe(200);
    const stored = await json<{ digest: string; models: Array<{ sha256: string }>; warmup: unknown }>(put);
    expect(stored.models[0]?.sha256).toBe(SHA);
    expect(stored.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(await json(await admin("/admin/v1/pools/models-a/manifest"))).toEqual(stored);

    const token = await runnerTokenFor("models-a");
    const seen = await json<{ digest: string; models: unknown[] }>(await call("/runner/v1/manifest", { token }));
    expect(seen.digest).toBe(stored.digest);
    expect(seen.models).toHaveLength(1);

    const resynced = await json<{ digest: string }>(
      await admin("/admin/v1/pools/models-a/manifest/resync", { method: "POST" }),
    );
    expect(resynced.digest).not.toBe(stored.digest);
    expect((await json<{ digest: string }>(await call("/runner/v1/manifest", { token }))).digest).toBe(resynced.digest);
  });

  it("answers a pool without a manifest: 404 to the admin, an empty one to runners", async () => {
    await createPool("models-empty");
    await expectError(await admin("/admin/v1/pools/models-empty/manifest"), 404, "manifest_not_found");
    await expectError(
      await admin("/admin/v1/pools/models-empty/manifest/resync", { method: "POST" }),
      404,
      "manifest_not_found",
    );
    const token = await runnerTokenFor("models-empty");
    const seen = await json(await call("/runner/v1/manifest", { token }));
    expect(seen).toMatchObject({ digest: "none", models: [], warmup: null });
    await expectError(
      await admin("/admin/v1/pools/nope/manifest", { method: "PUT", body: { models: [] } }),
      404,
      "pool_not_found",
    );
  });

  it("refuses bad entries with the field named and stores nothing", async () => {
    await createPool("models-bad");
    const cases: Array<[unknown, string]> = [
      [{ models: [{ ...model("a.safetensors"), filename: "../../etc/passwd" }] }, "models[0].filename"],
      [{ models: [{ ...model("a.safetensors"), folder: "custom_nodes" }] }, "models[0].folder"],
      [{ models: [{ ...model("a.safetensors"), sha256: "xyz" }] }, "models[0].sha256"],
      [{ models: [{ ...model("a.safetensors"), url: "ftp://x/y" }] }, "models[0].url"],
      [{ models: [model("a.safetensors"), model("a.safetensors")] }, "models[1].filename"],
    ];
    for (const [body, param] of cases) {
      const error = await expectError(
        await admin("/admin/v1/pools/models-bad/manifest", { method: "PUT", body }),
        400,
        "invalid_request",
      );
      expect(error.error.param).toBe(param);
    }
    await expectError(await admin("/admin/v1/pools/models-bad/manifest"), 404, "manifest_not_found");
  });

  it("keeps each runner's report for the admin view", async () => {
    await createPool("models-r");
    const token = await runnerTokenFor("models-r");
    const report = {
      runner_id: "gpu-1",
      manifest_digest: "none",
      state: "synced",
      warmup: { state: "none", seconds: null, error: null },
      files: [
        {
          folder: "checkpoints",
          filename: "a.safetensors",
          state: "present",
          bytes: 10,
          size: 10,
          error: null,
          source: "manifest",
        },
      ],
    };
    const res = await call("/runner/v1/manifest/status", { token, method: "PUT", body: report });
    expect(res.status).toBe(204);
    await expectError(
      await call("/runner/v1/manifest/status", { token, method: "PUT", body: { ...report, state: "bogus" } }),
      400,
      "invalid_request",
    );
    const view = await json<{ runners: Array<Record<string, unknown>> }>(
      await admin("/admin/v1/pools/models-r/models"),
    );
    expect(view.runners).toEqual([{ ...report, reported_at: expect.any(String) }]);
  });

  it("stores a tenant's model hosts", async () => {
    const tenant = await createTenant();
    const put = await admin(`/admin/v1/tenants/${tenant.id}/model-hosts`, {
      method: "PUT",
      body: { hosts: ["Models.Example.com", "*.hf.example"] },
    });
    expect(await json(put)).toEqual({ hosts: ["models.example.com", "*.hf.example"] });
    expect(await json(await admin(`/admin/v1/tenants/${tenant.id}/model-hosts`))).toEqual({
      hosts: ["models.example.com", "*.hf.example"],
    });
    await expectError(
      await admin(`/admin/v1/tenants/${tenant.id}/model-hosts`, { method: "PUT", body: { hosts: ["a/b"] } }),
      400,
      "invalid_request",
    );
    await expectError(await admin("/admin/v1/tenants/ten_nope/model-hosts"), 404, "tenant_not_found");
  });
});
