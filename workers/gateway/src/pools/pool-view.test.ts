/** GET /v1/pools/:name: a tenant sees the pool's counts and its runners' model state, names and counts only. */
import { describe, expect, it } from "vitest";
import { admin, call, createKey, createPool, createTenant, expectError, json } from "../../test/helpers.ts";

const file = (filename: string, state: string, source = "manifest") => ({
  folder: "checkpoints",
  filename,
  state,
  bytes: 10,
  size: 20,
  error: state === "failed" ? "sha256_mismatch: /srv/comfy/models/checkpoints/b.safetensors.part" : null,
  source,
});

describe("GET /v1/pools/:name", () => {
  it("shows manifest files with per-runner counts, without host paths or runner labels", async () => {
    await createPool("view-m", { region: "eu-west" });
    const put = await admin("/admin/v1/pools/view-m/manifest", {
      method: "PUT",
      body: {
        models: ["a.safetensors", "b.safetensors"].map((filename) => ({
          url: "https://models.example.com/x.safetensors",
          folder: "checkpoints",
          filename,
          sha256: "ab".repeat(32),
        })),
      },
    });
    const { digest } = await json<{ digest: string }>(put);
    const token = (await json<{ token: string }>(await admin("/admin/v1/runner-tokens", { body: { pool: "view-m" } })))
      .token;
    const report = (runner_id: string, manifest_digest: string, state: string, files: unknown[]) => ({
      runner_id,
      manifest_digest,
      state,
      warmup: { state: "none", seconds: null, error: null },
      files,
    });
    const reports = [
      report("host-gpu-1.internal", digest, "ready", [
        file("a.safetensors", "present"),
        file("b.safetensors", "present"),
        file("url-0123456789abcdef-d.safetensors", "present", "url"),
      ]),
      report("host-gpu-2.internal", digest, "syncing", [
        file("a.safetensors", "present"),
        file("b.safetensors", "downloading"),
      ]),
      report("host-gpu-3.internal", "old", "failed", [
        file("a.safetensors", "pending"),
        file("b.safetensors", "failed"),
      ]),
    ];
    for (const r of reports) {
      const res = await call("/runner/v1/manifest/status", { token, method: "PUT", body: r });
      expect(res.status).toBe(204);
    }
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id);
    const res = await call("/v1/pools/view-m", { token: key });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toMatch(/srv|host-gpu|sha256_mismatch|models\.example\.com/);
    const body = JSON.parse(text);
    expect(body).toMatchObject({ name: "view-m", region: "eu-west", default: false, queued: 0, running: 0 });
    expect(body.models.manifest_digest).toBe(digest);
    expect(body.models.files).toEqual([
      { folder: "checkpoints", filename: "a.safetensors", present: 2, pending: 1, downloading: 0, failed: 0 },
      { folder: "checkpoints", filename: "b.safetensors", present: 1, pending: 0, downloading: 1, failed: 1 },
    ]);
    expect(
      body.models.runners.map((r: { state: string; current: boolean; files: unknown; url_models: number }) => [
        r.state,
        r.current,
        r.files,
        r.url_models,
      ]),
    ).toEqual([
      ["ready", true, { present: 2, pending: 0, downloading: 0, failed: 0 }, 1],
      ["syncing", true, { present: 1, pending: 0, downloading: 1, failed: 0 }, 0],
      ["failed", false, { present: 0, pending: 1, downloading: 0, failed: 1 }, 0],
    ]);
  });

  it("404 for a pool the tenant may not use, or none", async () => {
    const tenant = await createTenant();
    const { key } = await createKey(tenant.id);
    await createPool("view-closed", { tenants: [] });
    await expectError(await call("/v1/pools/view-closed", { token: key }), 404, "pool_not_found");
    await expectError(await call("/v1/pools/view-none", { token: key }), 404, "pool_not_found");
  });
});
