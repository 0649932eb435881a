/** The per-template OpenAPI document is valid OpenAPI 3.1 and its run body is the template's JSON Schema. */
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { buildTemplate } from "../../workers/gateway/src/templates/build.ts";
import { templateOpenApi } from "../../workers/gateway/src/templates/openapi.ts";
import { exampleRun } from "../../workers/gateway/src/templates/schema.ts";
import { CORE, fixture } from "./fixtures.ts";

describe("per-template OpenAPI document", () => {
  it("validates as OpenAPI 3.1; the example run request validates against the run body schema", async () => {
    const t = buildTemplate(fixture("sdxl-refiner.api.json"), undefined, CORE);
    const doc = templateOpenApi("https://gw.example", { name: "sdxl", version: 3, description: null }, t.inputs) as {
      paths: Record<string, { post: { operationId: string } }>;
      components: { schemas: Record<string, Record<string, unknown>> };
    };
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.paths["/v1/templates/sdxl/runs"]!.post.operationId).toBe("run_sdxl");

    const ajv = new Ajv2020({ strict: false });
    for (const [name, schema] of Object.entries(doc.components.schemas))
      ajv.addSchema(schema, `#/components/schemas/${name}`);
    const run = ajv.compile({ $ref: "#/components/schemas/RunRequest" });
    expect(run({ ...exampleRun(t.inputs), version: 3 })).toBe(true);
    expect(run({ inputs: { prompt: "x", seed: -1, sampler_name: "euler" } })).toBe(true);
    expect(run({ inputs: { sampler_name: "nope" } })).toBe(false);
    expect(run({ inputs: { prompt: 5 } })).toBe(false);
    expect(run({ inputs: {}, extra: true })).toBe(false);
  });
});
