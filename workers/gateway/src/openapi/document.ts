/** Builds the OpenAPI 3.1 document from the same zod schemas the routes validate with. */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { z } from "zod";
import { commonResponseHeaders, commonResponses, ERROR_EXAMPLE, ErrorDoc } from "./common.ts";
import type { HeaderDoc, ResponseDoc, RouteDoc } from "./route-doc.ts";

type JsonObject = Record<string, unknown>;

const ERROR_REF = { $ref: "#/components/schemas/Error" };

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

function headerSchema(h: HeaderDoc, defs: JsonObject): JsonObject {
  return h.schema ? collectDefs(schemaOf(h.schema, "output"), defs) : { type: "string" };
}

function headerParams(headers: Record<string, HeaderDoc> | undefined, defs: JsonObject): JsonObject[] {
  return Object.entries(headers ?? {}).map(([name, h]) => ({
    name,
    in: "header",
    required: h.required ?? false,
    description: h.description,
    schema: headerSchema(h, defs),
    ...(h.example !== undefined ? { example: h.example } : {}),
  }));
}

function bodySchema(schema: z.ZodType, defs: JsonObject): JsonObject {
  return schema === ErrorEnvelope ? ERROR_REF : collectDefs(schemaOf(schema, "output"), defs);
}

function response(route: RouteDoc, status: number, r: ResponseDoc, defs: JsonObject): JsonObject {
  const content: JsonObject = {};
  if (r.schema) {
    const example = r.example ?? (r.schema === ErrorEnvelope ? ERROR_EXAMPLE : undefined);
    content[r.contentType ?? "application/json"] = {
      schema: bodySchema(r.schema, defs),
      ...(example !== undefined ? { example } : {}),
    };
  }
  for (const [type, schema] of Object.entries(r.alternatives ?? {}))
    content[type] = { schema: bodySchema(schema, defs) };
  const headers = { ...commonResponseHeaders(route, status), ...r.headers };
  return {
    description: r.description,
    headers: Object.fromEntries(
      Object.entries(headers).map(([name, h]) => [
        name,
        {
          description: h.description,
          required: h.required ?? false,
          schema: headerSchema(h, defs),
          ...(h.example !== undefined ? { example: h.example } : {}),
        },
      ]),
    ),
    ...(Object.keys(content).length ? { content } : {}),
  };
}

function operationId(route: RouteDoc): string {
  return `${route.method}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : ""))}`;
}

const SECURITY: Record<RouteDoc["security"], JsonObject[]> = {
  admin: [{ adminToken: [] }],
  apiKey: [{ apiKey: [] }],
  runner: [{ runnerToken: [] }],
  none: [],
};

export function buildOpenApi(routes: RouteDoc[], info: { version: string }): JsonObject {
  const schemas: JsonObject = {};
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const responses = { ...commonResponses(route), ...route.responses };
    const operation: JsonObject = {
      operationId: operationId(route),
      summary: route.summary,
      tags: [route.tag],
      parameters: [
        ...pathParams(route.path),
        ...queryParams(route.query, schemas),
        ...headerParams(route.headers, schemas),
      ],
      responses: Object.fromEntries(
        Object.entries(responses).map(([status, r]) => [status, response(route, Number(status), r, schemas)]),
      ),
      security: SECURITY[route.security],
    };
    if (route.description) operation.description = route.description;
    if (route.scope) operation["x-required-scope"] = route.scope;
    if (route.body) {
      operation.requestBody = {
        required: !route.bodyOptional,
        content: {
          "application/json": {
            schema: collectDefs(schemaOf(route.body, "input"), schemas),
            ...(route.bodyExample !== undefined ? { example: route.bodyExample } : {}),
          },
        },
      };
    }
    const key = openApiPath(route.path);
    paths[key] = { ...paths[key], [route.method]: operation };
  }
  schemas.Error = collectDefs(schemaOf(ErrorDoc, "output"), schemas);
  return {
    openapi: "3.1.0",
    info: {
      title: "comfy-edge API",
      version: info.version,
      description:
        "Public API of comfy-edge: ComfyUI workflow jobs on private GPU pools and an OpenAI-compatible LLM proxy. " +
        'Every error uses the envelope {"error": {type, code, message, param, request_id}} (schema Error). ' +
        "Every response carries x-request-id; every authenticated API-key response carries RateLimit-Limit, " +
        "RateLimit-Remaining and RateLimit-Reset; a 429 carries Retry-After.",
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
