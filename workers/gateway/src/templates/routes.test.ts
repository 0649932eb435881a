/** Templates over HTTP on workerd with real D1 and job objects: create from a real UI-format file, versions, runs. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import img2img from "../../../../test/fixtures/workflows/img2img.ui.json" with { type: "json" };
import sd15 from "../../../../test/fixtures/workflows/sd15-txt2img.ui.json" with { type: "json" };
import refiner from "../../../../test/fixtures/workflows/sdxl-refiner-primitive-reroute.ui.json" with { type: "json" };
import { call, createKey, createPool, createTenant, expectError, json } from "../../test/helpers.ts";
import { jobStub } from "../jobs/public.ts";

type Input = { name: string; from: string[]; kind: string; default: unknown; hidden?: boolean };
type View = {
  name: string;
  version: number;
  latest_version: number;
  ref: string;
  versions: Array<{ version: number; source: string }>;
  inputs: Input[];
  input_schema: { properties: Record<string, { type: string; default: unknown; enum?: string[] }> };
  example_request: { path: string; body: { inputs: Record<string, unknown> } };
};
type JobBody = {
  id: string;
  status: string;
  template?: { name: string; version: number; ref: string; inputs: Record<string, unknown> };
};

async function setup(pool: string) {
  expect((await createPool(pool)).status).toBe(201);
  const tenant = await createTenant({ default_pool: pool });
  const { key } = await createKey(tenant.id);
  return { key, tenant };
}

/** Grants the job's first lease as the pool dispatcher would, and returns the graph the runner gets. */
async function lease(jobId: string, pool: string) {
  const stub = jobStub(env, jobId)!;
  const grant = await stub.grantLease(1, "r1", pool);
  expect(grant).not.toBeNull();
  return { stub, workflow: grant!.workflow as Record<string, { inputs: Record<string, unknown> }> };
}

describe("templates", () => {
  it("creates from the SD1.5 UI-format file, shows typed inputs and a JSON Schema, runs by name with a prompt", async () => {
    const { key } = await setup("tpl-a");
    const created = await call("/v1/templates", { token: key, body: { name: "t2i", workflow: sd15 } });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe("/v1/templates/t2i");
    const v1 = await json<View>(created);
    expect(v1).toMatchObject({
      name: "t2i",
      version: 1,
      latest_version: 1,
      ref: "t2i@1",
      versions: [{ version: 1, source: "ui" }],
    });
    const names = v1.inputs.map((i) => i.name);
    for (const n of [
      "prompt",
      "negative_prompt",
      "seed",
      "steps",
      "cfg",
      "sampler_name",
      "scheduler",
      "denoise",
      "width",
      "height",
      "batch_size",
    ])
      expect(names).toContain(n);
    expect(v1.input_schema.properties.sampler_name!.enum).toContain("euler");
    expect(v1.input_schema.properties.steps).toMatchObject({ type: "integer", default: 20 });
    expect(v1.example_request.path).toBe("/v1/templates/t2i/runs");

    const run = await call("/v1/templates/t2i/runs", {
      token: key,
      body: { inputs: { prompt: "a red fox", seed: -1, steps: 4 } },
    });
    expect(run.status).toBe(202);
    const job = await json<JobBody>(run);
    expect(job.template).toMatchObject({
      name: "t2i",
      version: 1,
      ref: "t2i@1",
      inputs: { prompt: "a red fox", seed: -1, steps: 4, cfg: 8 },
    });
    const grant = await lease(job.id, "tpl-a");
    expect(grant.workflow["6"]!.inputs.text).toBe("a red fox");
    expect(grant.workflow["3"]!.inputs).toMatchObject({ seed: -1, steps: 4, sampler_name: "euler" });
    expect(grant.workflow["7"]!.inputs.text).toBe("text, watermark");
    // The runner reports the seed it chose: the job's template inputs show it.
    const ev = await grant.stub.runnerEvent(1, "tpl-a", {
      type: "started",
      resolved_inputs: { "3": { seed: 8273645 } },
    });
    expect(ev.ok).toBe(true);
    const read = await json<JobBody>(await call(`/v1/jobs/${job.id}`, { token: key }));
    expect(read.template!.inputs.seed).toBe(8273645);
  });

  it("versions are immutable and pinned: name@N and version; GET, list, openapi.json, delete", async () => {
    const { key } = await setup("tpl-b");
    await call("/v1/templates", { token: key, body: { name: "sdxl", workflow: sd15, description: "first" } });
    const v2 = await json<View>(
      await call("/v1/templates", {
        token: key,
        body: { name: "sdxl", workflow: sd15, inputs: { text: "6.text", seed: false }, description: "second" },
      }),
    );
    expect(v2).toMatchObject({ version: 2, latest_version: 2 });
    expect(v2.inputs.find((i) => i.name === "text")!.from).toEqual(["6.text"]);
    expect(Object.keys(v2.input_schema.properties)).not.toContain("seed");
    const v1 = await json<View>(await call("/v1/templates/sdxl@1", { token: key }));
    expect(v1.inputs.map((i) => i.name)).toContain("prompt");
    expect((await json<View>(await call("/v1/templates/sdxl?version=1", { token: key }))).version).toBe(1);
    await expectError(await call("/v1/templates/sdxl@7", { token: key }), 404, "template_version_not_found");

    // v2 renamed prompt to text: a run of v1 takes `prompt`, a run of the latest refuses it.
    const pinned = await json<JobBody>(
      await call("/v1/templates/sdxl/runs", { token: key, body: { version: 1, inputs: { prompt: "x" } } }),
    );
    expect(pinned.template!.ref).toBe("sdxl@1");
    const refused = await expectError(
      await call("/v1/templates/sdxl/runs", { token: key, body: { inputs: { prompt: "x" } } }),
      422,
      "unknown_input",
    );
    expect(refused.error.param).toBe("inputs.prompt");
    expect(
      (await json<JobBody>(await call("/v1/templates/sdxl@1/runs", { token: key, body: { inputs: {} } }))).template!
        .version,
    ).toBe(1);

    const list = await json<{ data: Array<{ name: string; ref: string }> }>(
      await call("/v1/templates", { token: key }),
    );
    expect(list.data).toEqual([expect.objectContaining({ name: "sdxl", ref: "sdxl@2", description: "second" })]);

    const doc = await json<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    }>(await call("/v1/templates/sdxl/openapi.json", { token: key }));
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(["/v1/templates/sdxl/runs"]);
    expect(Object.keys(doc.components.schemas.Inputs!.properties!)).toContain("text");
    expect(doc.components.schemas.RunRequest!.properties!.inputs).toEqual({ $ref: "#/components/schemas/Inputs" });

    expect((await call("/v1/templates/sdxl", { token: key, method: "DELETE" })).status).toBe(200);
    await expectError(await call("/v1/templates/sdxl", { token: key }), 404, "template_not_found");
    await expectError(await call("/v1/templates/sdxl/runs", { token: key, body: {} }), 404, "template_not_found");
  });

  it("every bad run input is a 400/422 naming inputs.<name>; idempotent runs replay the job", async () => {
    const { key } = await setup("tpl-c");
    await call("/v1/templates", { token: key, body: { name: "t", workflow: sd15 } });
    const cases: Array<[Record<string, unknown>, number, string, string]> = [
      [{ steps: "20" }, 400, "invalid_request", "inputs.steps"],
      [{ steps: 2.5 }, 400, "invalid_request", "inputs.steps"],
      [{ cfg: 101 }, 422, "invalid_input", "inputs.cfg"],
      [{ denoise: -0.5 }, 422, "invalid_input", "inputs.denoise"],
      [{ sampler_name: "nope" }, 422, "invalid_input", "inputs.sampler_name"],
      [{ seed: -2 }, 422, "invalid_input", "inputs.seed"],
      [{ prompt: 5 }, 400, "invalid_request", "inputs.prompt"],
      [{ colour: "red" }, 422, "unknown_input", "inputs.colour"],
    ];
    for (const [inputs, status, code, param] of cases) {
      const body = await expectError(
        await call("/v1/templates/t/runs", { token: key, body: { inputs } }),
        status,
        code,
      );
      expect(body.error.param, JSON.stringify(inputs)).toBe(param);
    }
    const headers = { "idempotency-key": "order-7" };
    const a = await call("/v1/templates/t/runs", { token: key, headers, body: { inputs: { prompt: "same" } } });
    const b = await call("/v1/templates/t/runs", { token: key, headers, body: { inputs: { prompt: "same" } } });
    expect((await json<JobBody>(b)).id).toBe((await json<JobBody>(a)).id);
    expect(b.headers.get("idempotent-replayed")).toBe("true");
    await expectError(
      await call("/v1/templates/t/runs", { token: key, headers, body: { inputs: { prompt: "other" } } }),
      409,
      "idempotency_conflict",
    );
  });

  it("an image template needs an image; refused creates write nothing; templates are per tenant", async () => {
    const { key } = await setup("tpl-d");
    await call("/v1/templates", { token: key, body: { name: "i2i", workflow: img2img } });
    const missing = await expectError(
      await call("/v1/templates/i2i/runs", { token: key, body: {} }),
      422,
      "missing_input",
    );
    expect(missing.error.param).toBe("inputs.image");
    const bad = await expectError(
      await call("/v1/templates/i2i/runs", { token: key, body: { inputs: { image: "../../etc/passwd" } } }),
      422,
      "invalid_input",
    );
    expect(bad.error.param).toBe("inputs.image");

    // A custom node this pool lacks (rgthree's Seed): 422 naming it, and no template.
    const refused = await expectError(
      await call("/v1/templates", { token: key, body: { name: "sdxl", workflow: refiner } }),
      422,
      "unknown_node_class",
    );
    expect(refused.error.message).toContain("Seed (rgthree)");
    await expectError(await call("/v1/templates/sdxl", { token: key }), 404, "template_not_found");
    const badOverride = await expectError(
      await call("/v1/templates", { token: key, body: { name: "x", workflow: sd15, inputs: { p: "99.text" } } }),
      422,
      "invalid_template_input",
    );
    expect(badOverride.error.param).toBe("inputs.p.from");
    await expectError(await call("/v1/templates/x", { token: key }), 404, "template_not_found");

    const other = await setup("tpl-e");
    await expectError(await call("/v1/templates/i2i", { token: other.key }), 404, "template_not_found");
    await expectError(await call("/v1/templates/i2i/runs", { token: other.key, body: {} }), 404, "template_not_found");
    expect((await json<{ data: unknown[] }>(await call("/v1/templates", { token: other.key }))).data).toEqual([]);
    await expectError(
      await call("/v1/templates/i2i", { token: other.key, method: "DELETE" }),
      404,
      "template_not_found",
    );
    expect((await call("/v1/templates/i2i", { token: key })).status).toBe(200);
  });
});
