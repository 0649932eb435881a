/**
 * The OpenAPI document on its own (no browser needed): valid OpenAPI 3.1 by an independent validator,
 * every `$ref` resolves, and it says what a generated client needs: the request headers the API reads,
 * the response headers it sends, and examples.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../harness/stack.ts";

type Json = Record<string, any>;

function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const v of node) refs(v, out);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

function pointer(doc: Json, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  return ref
    .slice(2)
    .split("/")
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce<unknown>((node, key) => (node as Json | undefined)?.[key], doc);
}

describe("the OpenAPI document", () => {
  let stack: Stack;
  let doc: Json;
  beforeAll(async () => {
    stack = await startStack();
    doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as Json;
  }, 60_000);
  afterAll(() => stack?.close());

  const op = (path: string, method: string) => doc.paths[path][method] as Json;
  const headerParams = (o: Json) => (o.parameters as Json[]).filter((p) => p.in === "header").map((p) => p.name);

  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("has no $ref that does not resolve", () => {
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(10);
    expect([...new Set(all)].filter((r) => pointer(doc, r) === undefined)).toEqual([]);
    expect(doc.components.schemas.Error).toBeDefined();
  });

  it("documents the job event stream's items, with the contract's event schemas as components", () => {
    const sse = op("/v1/jobs/{id}/events", "get").responses["200"].content["text/event-stream"].schema;
    expect(sse).toEqual({ $ref: "#/components/schemas/JobStreamEvent" });
    const items = doc.components.schemas.JobStreamEvent.anyOf as Json[];
    const byEvent = Object.fromEntries(
      items.filter((i) => i.properties.event.const).map((i) => [i.properties.event.const, i.properties.data]),
    );
    expect(byEvent).toMatchObject({
      llm: { $ref: "#/components/schemas/JobLlmEvent" },
      started: { $ref: "#/components/schemas/JobStartedEvent" },
    });
    expect(byEvent.preview.$ref ?? byEvent.preview.allOf?.[0]?.$ref).toBe("#/components/schemas/JobPreviewEvent");
    expect(doc.components.schemas.JobStartedEvent.properties.resolved_inputs).toBeDefined();
    expect(doc.components.schemas.JobPreviewEvent.properties.image.pattern).toBeDefined();
    expect(doc.components.schemas.JobLlmEvent.properties.cache.enum).toEqual(["HIT", "MISS", "BYPASS"]);
  });

  it("documents the request headers the API reads", () => {
    expect(headerParams(op("/v1/jobs", "post"))).toEqual(expect.arrayContaining(["Idempotency-Key", "Prefer"]));
    expect(headerParams(op("/v1/jobs/{id}", "get"))).toContain("Prefer");
    expect(headerParams(op("/v1/jobs/{id}/events", "get"))).toContain("Last-Event-ID");
    expect(headerParams(op("/v1/chat/completions", "post"))).toEqual(
      expect.arrayContaining(["Cache-Control", "x-cache-ttl"]),
    );
  });

  it("documents the response headers: x-cache, RateLimit-*, Retry-After, x-request-id", () => {
    const chat200 = op("/v1/chat/completions", "post").responses["200"].headers;
    expect(Object.keys(chat200)).toEqual(
      expect.arrayContaining(["x-cache", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "x-request-id"]),
    );
    expect(chat200["RateLimit-Limit"].required).toBe(true);
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Json>)) {
      for (const [method, o] of Object.entries(methods as Record<string, Json>)) {
        for (const [status, r] of Object.entries(o.responses as Record<string, Json>)) {
          const where = `${method} ${path} ${status}`;
          expect(r.headers?.["x-request-id"], where).toBeDefined();
          if (status === "429") expect(r.headers?.["Retry-After"]?.required, where).toBe(true);
          if (o.security?.[0]?.apiKey && status !== "401") expect(r.headers?.["RateLimit-Limit"], where).toBeDefined();
          if (Number(status) >= 400) {
            expect(r.content?.["application/json"]?.schema, where).toEqual({ $ref: "#/components/schemas/Error" });
          }
        }
      }
    }
  });

  it("gives examples for request bodies a client writes by hand and for errors", () => {
    expect(op("/v1/jobs", "post").requestBody.content["application/json"].example.workflow).toBeDefined();
    expect(op("/v1/chat/completions", "post").requestBody.content["application/json"].example.messages).toBeDefined();
    expect(op("/v1/jobs", "post").responses["400"].content["application/json"].example.error.code).toBe(
      "invalid_request",
    );
  });

  it("marks redeliver's body optional and documents 415/413 wherever a JSON body is read", () => {
    expect(op("/v1/jobs/{id}/webhook-deliveries/redeliver", "post").requestBody.required).toBe(false);
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Json>)) {
      for (const [method, o] of Object.entries(methods as Record<string, Json>)) {
        if (!o.requestBody) continue;
        expect(Object.keys(o.responses), `${method} ${path}`).toEqual(expect.arrayContaining(["400", "413", "415"]));
      }
    }
  });
});
