/** Node-class policy: the rules (pure) and their effect on POST /v1/jobs through HTTP. */
import { describe, expect, it } from "vitest";
import { admin, call, createKey, createPool, createTenant, expectError, json } from "../../test/helpers.ts";
import { DEFAULT_NODE_POLICY, decide, nodePolicyReader, parseNodePolicy, policyLayers } from "./node-policy.ts";

const none = { allow: [], deny: [] };

describe("node policy rules", () => {
  it("refuses file readers, writers and paid API nodes by default and allows everything else", () => {
    const layers = policyLayers(none, null, null);
    for (const cls of ["LoadImageOutput", "LoadVideo", "LoadAudio", "Load3D", "LoadLatent", "Painter"]) {
      expect(decide(cls, layers), cls).toEqual({ allowed: false, layer: "default" });
    }
    for (const cls of [
      "CheckpointSave",
      "ModelSave",
      "CLIPSave",
      "VAESave",
      "LoraSave",
      "SaveLatent",
      "OpenAIDalle3",
    ]) {
      expect(decide(cls, layers).allowed, cls).toBe(false);
    }
    for (const cls of ["LoadImage", "LoadImageMask", "KSampler", "SaveImage", "SaveVideo", "MyCustomNode"]) {
      expect(decide(cls, layers).allowed, cls).toBe(true);
    }
  });

  it("the most specific layer that names a class decides", () => {
    const deployment = { allow: ["group:api_nodes"], deny: [] };
    const pool = { allow: [], deny: ["OpenAIDalle3"] };
    const tenant = { allow: ["OpenAIDalle3"], deny: [] };
    expect(decide("OpenAIDalle3", policyLayers(deployment, null, null))).toEqual({
      allowed: true,
      layer: "deployment",
    });
    expect(decide("OpenAIDalle3", policyLayers(deployment, pool, null))).toEqual({ allowed: false, layer: "pool" });
    expect(decide("OpenAIDalle3", policyLayers(deployment, pool, tenant))).toEqual({ allowed: true, layer: "tenant" });
  });

  it("within a layer: exact name over group over '*', deny over allow", () => {
    const allowList = { allow: ["KSampler", "group:file_readers"], deny: ["*", "LoadVideo"] };
    const layers = policyLayers(allowList, null, null);
    expect(decide("KSampler", layers).allowed).toBe(true);
    expect(decide("VAEDecode", layers).allowed).toBe(false);
    expect(decide("LoadAudio", layers).allowed).toBe(true);
    expect(decide("LoadVideo", layers).allowed).toBe(false);
    expect(decide("X", policyLayers({ allow: ["X"], deny: ["X"] }, null, null)).allowed).toBe(false);
  });

  it("the built-in default stays below a deployment policy that only adds to it", () => {
    const layers = policyLayers({ allow: ["LoadVideo"], deny: [] }, null, null);
    expect(decide("LoadVideo", layers).allowed).toBe(true);
    expect(decide("CheckpointSave", layers).allowed).toBe(false);
    expect(DEFAULT_NODE_POLICY.allow).toEqual(["LoadImage", "LoadImageMask"]);
  });

  it("parses NODE_POLICY and fails closed with 503 when it is broken", () => {
    expect(parseNodePolicy("")).toEqual({ ok: true, policy: none });
    expect(parseNodePolicy('{"allow": ["LoadVideo"]}')).toEqual({
      ok: true,
      policy: { allow: ["LoadVideo"], deny: [] },
    });
    expect(parseNodePolicy("{allow")).toMatchObject({ ok: false, reason: expect.stringContaining("not valid JSON") });
    expect(parseNodePolicy('{"allow": ["group:nope"]}')).toMatchObject({
      ok: false,
      reason: expect.stringContaining("allow.0"),
    });
    const read = nodePolicyReader();
    expect(read({ NODE_POLICY: '{"deny": ["KSampler"]}' }).deny).toEqual(["KSampler"]);
    expect(() => read({ NODE_POLICY: "[1]" })).toThrow(
      expect.objectContaining({ status: 503, code: "node_policy_invalid" }),
    );
  });
});

const SAVE = { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "x" } };
const EMPTY = { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } };
const PNG_DATA_URL =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

async function tenantKey(pool: string, body: Record<string, unknown> = {}) {
  const tenant = await createTenant({ default_pool: pool, ...body });
  return { tenant, key: (await createKey(tenant.id)).key };
}

function submit(key: string, workflow: Record<string, unknown>, pool?: string) {
  return call("/v1/jobs", { token: key, body: { workflow: { "1": EMPTY, "9": SAVE, ...workflow }, pool } });
}

describe("node policy on POST /v1/jobs", () => {
  it("tenant A cannot read tenant B's outputs through any file-reading node the server offers (422 node_not_allowed)", async () => {
    expect((await createPool("np-shared")).status).toBe(201);
    const { key } = await tenantKey("np-shared");
    const attempts: Array<[string, Record<string, unknown>]> = [
      ["LoadImageOutput", { image: "ComfyUI_00001_.png [output]" }],
      ["LoadImageOutput", { image: "../output/ComfyUI_00001_.png [output]" }],
      ["LoadVideo", { file: "b-video.mp4 [output]" }],
      ["LoadAudio", { audio: "b-audio.flac [output]" }],
      ["Load3D", { model_file: "b.glb [output]", image: "", width: 8, height: 8 }],
      ["LoadLatent", { latent: "b.latent" }],
      ["LoadImageDataSetFromFolder", { folder: "../output" }],
      ["Painter", { mask: "b-mask.png [output]", width: 64, height: 64, bg_color: "#000000" }],
    ];
    for (const [cls, inputs] of attempts) {
      const err = await expectError(await submit(key, { "5": { class_type: cls, inputs } }), 422, "node_not_allowed");
      expect(err.error.param).toBe("workflow.5.class_type");
      expect(err.error.message).toContain(`'${cls}'`);
      expect(err.error.message).toContain("reads files on the GPU host");
      expect(err.error.message).toContain(`"allow"`);
    }
  });

  it("refuses writers and paid API nodes by default, naming why", async () => {
    expect((await createPool("np-default")).status).toBe(201);
    const { key } = await tenantKey("np-default");
    const saver = await expectError(
      await submit(key, { "5": { class_type: "CheckpointSave", inputs: { filename_prefix: "x" } } }),
      422,
      "node_not_allowed",
    );
    expect(saver.error.message).toContain("writes files other than job outputs");
    const paid = await expectError(
      await submit(key, { "5": { class_type: "OpenAIDalle3", inputs: { prompt: "a cat" } } }),
      422,
      "node_not_allowed",
    );
    expect(paid.error.param).toBe("workflow.5.class_type");
    expect(paid.error.message).toContain("paid partner API node");
  });

  it("a tenant override allows a class; its file input must still be a managed reference", async () => {
    expect((await createPool("np-tenant")).status).toBe(201);
    const { key } = await tenantKey("np-tenant", { node_policy: { allow: ["LoadImageOutput"] } });
    for (const image of ["b.png [output]", "../output/b.png", "b.png [input]", "b.png", "sub/b.png [temp]"]) {
      const err = await expectError(
        await submit(key, { "5": { class_type: "LoadImageOutput", inputs: { image } } }),
        422,
        "invalid_input",
      );
      expect(err.error.param).toBe("workflow.5.inputs.image");
      expect(err.error.message).toContain("file:<id>");
    }
    await expectError(
      await submit(key, { "5": { class_type: "LoadImageOutput", inputs: { image: "file:file_0123456789abcdef" } } }),
      422,
      "unknown_file",
    );
    const ok = await submit(key, { "5": { class_type: "LoadImageOutput", inputs: { image: PNG_DATA_URL } } });
    expect(ok.status, await ok.clone().text()).toBe(202);
    // Other tenants on the same pool keep the default.
    const other = await tenantKey("np-tenant");
    await expectError(
      await submit(other.key, { "5": { class_type: "LoadImageOutput", inputs: { image: PNG_DATA_URL } } }),
      422,
      "node_not_allowed",
    );
  });

  it("a tenant's policy change applies to its existing keys at once", async () => {
    expect((await createPool("np-patch")).status).toBe(201);
    const { tenant, key } = await tenantKey("np-patch");
    const workflow = { "5": { class_type: "ImageInvert", inputs: { image: ["1", 0] } } };
    expect((await submit(key, workflow)).status).toBe(202);
    const patched = await admin(`/admin/v1/tenants/${tenant.id}`, {
      method: "PATCH",
      body: { node_policy: { deny: ["ImageInvert"] } },
    });
    expect(await json(patched)).toMatchObject({ node_policy: { allow: [], deny: ["ImageInvert"] } });
    const err = await expectError(await submit(key, workflow), 422, "node_not_allowed");
    expect(err.error.message).toContain("this tenant's node policy");
    await admin(`/admin/v1/tenants/${tenant.id}`, { method: "PATCH", body: { node_policy: null } });
    expect((await submit(key, workflow)).status).toBe(202);
  });

  it("a pool's policy applies to the jobs on that pool, and the tenant's override wins over it", async () => {
    const created = await createPool("np-partner", {
      node_policy: { allow: ["group:api_nodes"], deny: ["ImageInvert"] },
    });
    expect(await json(created)).toMatchObject({ node_policy: { allow: ["group:api_nodes"], deny: ["ImageInvert"] } });
    expect((await createPool("np-plain")).status).toBe(201);
    const { key } = await tenantKey("np-plain");
    const paid = { "5": { class_type: "OpenAIDalle3", inputs: { prompt: "a cat" } } };
    expect((await submit(key, paid, "np-partner")).status).toBe(202);
    await expectError(await submit(key, paid, "np-plain"), 422, "node_not_allowed");
    const invert = { "5": { class_type: "ImageInvert", inputs: { image: ["1", 0] } } };
    const err = await expectError(await submit(key, invert, "np-partner"), 422, "node_not_allowed");
    expect(err.error.message).toContain("the pool's node policy");
    const allowed = await tenantKey("np-plain", { node_policy: { allow: ["ImageInvert"] } });
    expect((await submit(allowed.key, invert, "np-partner")).status).toBe(202);

    // PATCH changes the pool's policy (the admin API drops the cached pool record).
    const patched = await admin("/admin/v1/pools/np-partner", { method: "PATCH", body: { node_policy: null } });
    expect(await json(patched)).toMatchObject({ name: "np-partner", node_policy: null });
    await expectError(await submit(key, paid, "np-partner"), 422, "node_not_allowed");
  });

  it("validates node_policy in the admin API", async () => {
    const bad = await expectError(
      await admin("/admin/v1/tenants", { body: { name: "np-bad", node_policy: { allow: ["group:everything"] } } }),
      400,
      "invalid_request",
    );
    expect(bad.error.param).toBe("node_policy.allow[0]");
    const extra = await expectError(
      await createPool("np-bad", { node_policy: { allow: [], permit: ["X"] } }),
      400,
      "invalid_request",
    );
    expect(extra.error.param).toBe("node_policy.permit");
    await expectError(await admin("/admin/v1/pools/np-missing", { method: "PATCH", body: {} }), 404, "pool_not_found");
  });
});
