/** Builds the OpenAPI 3.1 document from the same zod schemas the routes validate with. */
import { z } from "zod";
import { ErrorEnvelope } from "../../../shared/contract/index.ts";
import type { RouteDoc } from "./route-doc.ts";

type JsonObject = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: "input" | "output"): JsonObject {
  const json = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as JsonObject;
  delete json.$schema;
  // Named sub-schemas (`.meta({id})`) land in $defs; hoist their references to components.
  return JSON.parse(JSON.stringify(json).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonObject;
}

function collectDefs(json: JsonObject, into: JsonObject): JsonObject {
  const defs = json.$defs as JsonObject | undefined;
  if (defs) {
    for (const [name, def] of Object.entries(defs)) into[name] = def;
    delete json.$defs;
  }
  return json;
}

function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");
}

function pathParams(path: string): JsonObject[] {
  return [...path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => ({
    name: m[1],
    in: "path",
    required: true,
    schema: { type: "string" },
  }));
}

function queryParams(schema: z.ZodType | undefined, defs: JsonObject): JsonObject[] {
  if (!schema) return [];
  const json = collectDefs(schemaOf(schema, "input"), defs);
  const props = (json.properties ?? {}) as Record<string, JsonObject>;
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: "query",
    required: required.has(name),
    schema: s,
    ...(typeof s.description === "string" ? { description: s.description } : {}),
  }));
}

export function buildOpenApi(routes: RouteDoc[], info: { version: string }): JsonObject {
  const schemas: JsonObject = {};
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const operation: JsonObject = {
      operationId: `${route.method}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : ""))}`,
      summary: route.summary,
      tags: [route.tag],
      parameters: [...pathParams(route.path), ...queryParams(route.query, schemas)],
      responses: Object.fromEntries(
        Object.entries(route.responses).map(([status, r]) => [
          status,
          {
            description: r.description,
            ...(r.schema
              ? {
                  content: {
                    [r.contentType ?? "application/json"]: {
                      schema: collectDefs(schemaOf(r.schema, "output"), schemas),
                    },
                  },
                }
              : {}),
          },
        ]),
      ),
    };
    if (route.description) operation.description = route.description;
    if (route.security === "admin") operation.security = [{ adminToken: [] }];
    else if (route.security === "apiKey") operation.security = [{ apiKey: [] }];
    else if (route.security === "runner") operation.security = [{ runnerToken: [] }];
    else operation.security = [];
    if (route.scope) operation["x-required-scope"] = route.scope;
    if (route.body) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: collectDefs(schemaOf(route.body, "input"), schemas) } },
      };
    }
    const key = openApiPath(route.path);
    paths[key] = { ...paths[key], [route.method]: operation };
  }
  schemas.Error ??= collectDefs(schemaOf(ErrorEnvelope, "output"), schemas);
  return {
    openapi: "3.1.0",
    info: {
      title: "comfy-edge API",
      version: info.version,
      description:
        "Public API of comfy-edge: ComfyUI workflow jobs on private GPU pools and an OpenAI-compatible LLM proxy. " +
        'Every error uses the envelope {"error": {type, code, message, param, request_id}}.',
    },
    servers: [{ url: "/" }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        apiKey: { type: "http", scheme: "bearer", description: "API key (ce_sk_...), scopes llm and/or jobs" },
        adminToken: { type: "http", scheme: "bearer", description: "The deployment's ADMIN_TOKEN" },
        runnerToken: { type: "http", scheme: "bearer", description: "Pool-scoped runner token (ce_rt_...)" },
      },
    },
  };
}
