/**
 * The OpenAPI 3.1 document of one template (GET /v1/templates/:name/openapi.json, pure): its run
 * operation, whose request body's `inputs` is the template's JSON Schema, so a client generator gives a
 * typed `run(prompt, seed, ...)`.
 */
import { z } from "zod";
import { ErrorEnvelope, Job } from "../../../shared/contract/index.ts";
import { TemplateRun } from "../../../shared/contract/templates.ts";
import type { TemplateInput } from "./detect.ts";
import { exampleRun, inputsSchema } from "./schema.ts";

type Json = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: "input" | "output"): Json {
  const json = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as Json;
  delete json.$schema;
  return json;
}

export function templateOpenApi(
  origin: string,
  template: { name: string; version: number; description: string | null },
  inputs: TemplateInput[],
): Json {
  const { $schema: _, ...inputSchema } = inputsSchema(inputs);
  const run = schemaOf(TemplateRun, "input") as { properties: Json; required?: string[] };
  run.properties = { ...run.properties, inputs: { $ref: "#/components/schemas/Inputs" } };
  const error = (description: string) => ({
    description,
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  });
  const job = (description: string) => ({
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
            200: job("Finished within Prefer: wait"),
            202: job("Queued (or running)"),
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
        Inputs: inputSchema,
        RunRequest: run,
        Job: schemaOf(Job, "output"),
        Error: schemaOf(ErrorEnvelope, "output"),
      },
    },
  };
}
