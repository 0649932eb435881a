/** Model inputs given as URLs (docs/models.md): only where the pool and the tenant allow them. */
import { describe, expect, it } from "vitest";
import { admin, call, createKey, createPool, createTenant, expectError } from "../../test/helpers.ts";

const workflow = (ckpt: string) => ({
  "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: ckpt } },
  "2": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "x" } },
});
const URL_OK = "https://models.example.com/sd15.safetensors";

async function setup(pool: string, urlModels: boolean, hosts: string[] | null) {
  expect((await createPool(pool)).status).toBe(201);
  const manifest = { models: [], ...(urlModels ? { url_models: { max_bytes: 10_000_000 } } : {}) };
  expect((await admin(`/admin/v1/pools/${pool}/manifest`, { method: "PUT", body: manifest })).status).toBe(200);
  const tenant = await createTenant({ default_pool: pool });
  if (hosts) await admin(`/admin/v1/tenants/${tenant.id}/model-hosts`, { method: "PUT", body: { hosts } });
  return (await createKey(tenant.id)).key;
}

const submit = (key: string, ckpt: string) => call("/v1/jobs", { token: key, body: { workflow: workflow(ckpt) } });

describe("model inputs by URL", () => {
  it("accepts a URL on the tenant's model host in a pool that allows them", async () => {
    const key = await setup("url-models-ok", true, ["models.example.com"]);
    expect((await submit(key, URL_OK)).status).toBe(202);
  });

  it("refuses them in a pool without url_models, naming the input", async () => {
    const key = await setup("url-models-off", false, ["models.example.com"]);
    const error = await expectError(await submit(key, URL_OK), 422, "url_models_not_allowed");
    expect(error.error.param).toBe("workflow.1.inputs.ckpt_name");
  });

  it("refuses them for a tenant without model hosts", async () => {
    const key = await setup("url-models-nohosts", true, null);
    await expectError(await submit(key, URL_OK), 422, "url_models_not_allowed");
  });

  it("refuses a host outside the tenant's list and an unsafe URL (URL guard)", async () => {
    const key = await setup("url-models-guard", true, ["models.example.com", "127.0.0.1"]);
    const other = await expectError(
      await submit(key, "https://evil.example.net/x.safetensors"),
      422,
      "url_not_allowed",
    );
    expect(other.error.param).toBe("workflow.1.inputs.ckpt_name");
    await expectError(await submit(key, "https://127.0.0.1/x.safetensors"), 422, "unsafe_url");
    await expectError(await submit(key, "https://user:pw@models.example.com/x.safetensors"), 422, "unsafe_url");
  });

  it("leaves plain file names alone", async () => {
    const key = await setup("url-models-plain", false, null);
    expect((await submit(key, "sd15.safetensors")).status).toBe(202);
  });
});
