/**
 * The OpenAPI 3.1 document of one template (GET /v1/templates/:name/openapi.json, pure): its run
 * operation, whose request body's `inputs` is the template's JSON Schema, so a client generator gives a
 * typed `run(prompt, seed, ...)`.
 */

import { ErrorEnvelope, Job } from "@comfy-edge/shared/contract";
import { TemplateRun } from "@comfy-edge/shared/contract/templates";
import { z } from "zod";
import type { TemplateInput } from "./detect.ts";
import { exampleRun, inputsSchema } from "./schema.ts";

type Json = Record<string, unknown>;

/** `#/$defs/X` -> `#/components/schemas/X`, everywhere in `value`. */
function rebase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rebase);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === "$ref" && typeof v === "string" ? v.replace(/^#\/\$defs\//, "#/components/schemas/") : rebase(v),
      ]),
    );
  }
  return value;
}

/** A zod schema as JSON Schema for the document; its named parts (`$defs`) go to `defs` (components). */
function schemaOf(schema: z.ZodType, io: "input" | "output", defs: Json): Json {
  const json = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as Json;
  delete json.$schema;
  const own = (json.$defs ?? {}) as Json;
  delete json.$defs;
  for (const [name, def] of Object.entries(own)) defs[name] = rebase(def);
  return rebase(json) as Json;
}

export function templateOpenApi(
  origin: string,
  template: { name: string; version: number; description: string | null },
  inputs: TemplateInput[],
): Json {
  const { $schema: _, ...inputSchema } = inputsSchema(inputs);
  const defs: Json = {};
  const run = schemaOf(TemplateRun, "input", defs) as { properties: Json; required?: string[] };
  const job = schemaOf(Job, "output", defs);
  const errorSchema = schemaOf(ErrorEnvelope, "output", defs);
  run.properties = { ...run.properties, inputs: { $ref: "#/components/schemas/Inputs" } };
  const error = (description: string) => ({
    description,
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  });
  const jobAnswer = (description: string) => ({
    description,
    content: { "application/json": { schema: { $ref: "#/components/schemas/Job" } } },
  });
  const operationId = `run_${template.name.replace(/[^A-Za-z0-9_]/g, "_")}`;
  return {
    openapi: "3.1.0",
    info: {
      title: `comfy-edge template ${template.name}`,
      version: String(template.version),
      description: template.description ?? `Runs the workflow template ${template.name}@${template.version}.`,
    },
    servers: [{ url: origin }],
    security: [{ apiKey: [] }],
    paths: {
      [`/v1/templates/${template.name}/runs`]: {
        post: {
          operationId,
          summary: `Run ${template.name}`,
          parameters: [
            { name: "Idempotency-Key", in: "header", required: false, schema: { type: "string", maxLength: 255 } },
            { name: "Prefer", in: "header", required: false, schema: { type: "string", examples: ["wait=30"] } },
          ],
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: { $ref: "#/components/schemas/RunRequest" },
                example: { ...exampleRun(inputs), version: template.version },
              },
            },
          },
          responses: {
            200: jobAnswer("Finished within Prefer: wait"),
            202: jobAnswer("Queued (or running)"),
            400: error("Malformed request; an input of the wrong type (param inputs.<name>)"),
            401: error("Missing, invalid or revoked API key"),
            403: error("Key lacks the jobs scope"),
            404: error("No such template or version"),
            409: error("Idempotency-Key reused with another body"),
            422: error("An input out of range, not allowed or unknown (param inputs.<name>), or the workflow refused"),
            429: error("Rate limited or too many queued jobs"),
          },
        },
      },
    },
    components: {
      securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "API key with the jobs scope" } },
      schemas: {
        ...defs,
        Inputs: inputSchema,
        RunRequest: run,
        // A schema with its own id comes back as a $ref to its $defs entry (now a component).
        ...(job.$ref ? {} : { Job: job }),
        ...(errorSchema.$ref ? {} : { Error: errorSchema }),
      },
    },
  };
}
