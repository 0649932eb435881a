/**
 * Checks real responses against the gateway's own /openapi.json: the status is documented for the
 * operation, the media type is one of its documented ones, a JSON body validates against the schema
 * (openapi-backend, which compiles the document's schemas with Ajv), every required header is there with
 * a value of its schema, and no header outside plain HTTP is left undocumented.
 */
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import OpenAPIBackend from "openapi-backend";

type Json = Record<string, any>;

/** Headers of HTTP itself that need no line in the document. */
const PLAIN_HTTP = new Set([
  "content-type",
  "content-length",
  "date",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "server",
  "vary",
  "cache-control",
  "content-encoding",
  "etag",
  "last-modified",
  "accept-ranges",
]);

export interface Observed {
  method: string;
  /** The path template as in the document, e.g. `/v1/jobs/{id}`. */
  path: string;
  status: number;
  headers: Headers;
  body: string;
}

export class ContractChecker {
  readonly doc: Json;
  private readonly api: OpenAPIBackend;
  /** `METHOD path status` of everything checked, for coverage assertions. */
  readonly seen = new Set<string>();

  private constructor(doc: Json, api: OpenAPIBackend) {
    this.doc = doc;
    this.api = api;
  }

  static async load(baseUrl: string): Promise<ContractChecker> {
    const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as Json;
    // The document itself is checked by an OpenAPI 3.1 validator in test/openapi/document.test.ts;
    // openapi-backend's own check knows 3.0 only (`quick` skips it). Schemas compile with Ajv's 2020-12
    // dialect (OpenAPI 3.1's).
    const api = new OpenAPIBackend({
      definition: structuredClone(doc) as never,
      quick: true,
      validate: true,
      strict: true,
      customizeAjv: (_ajv, options) => {
        const ajv = new Ajv2020({ ...options, strict: false, allErrors: true });
        addFormats(ajv);
        return ajv as never;
      },
    });
    await api.init();
    return new ContractChecker(doc, api);
  }

  /** Problems with one response (empty when it matches the document). */
  check(o: Observed): string[] {
    const where = `${o.method.toUpperCase()} ${o.path} -> ${o.status}`;
    this.seen.add(`${o.method.toLowerCase()} ${o.path} ${o.status}`);
    const op = this.doc.paths?.[o.path]?.[o.method.toLowerCase()] as Json | undefined;
    if (!op) return [`${where}: no such operation in the document`];
    const documented = op.responses?.[String(o.status)] as Json | undefined;
    if (!documented) {
      return [`${where}: status not documented (documented: ${Object.keys(op.responses ?? {}).join(", ")})`];
    }
    const problems: string[] = [];
    const content = (documented.content ?? {}) as Record<string, Json>;
    const type = (o.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (o.body.length > 0 || o.headers.get("content-type")) {
      if (!(type in content)) {
        problems.push(`${where}: media type '${type}' not documented (documented: ${Object.keys(content).join(", ")})`);
      } else if (type === "application/json") {
        let body: unknown;
        try {
          body = JSON.parse(o.body);
        } catch {
          problems.push(`${where}: body is not JSON: ${o.body.slice(0, 80)}`);
        }
        if (body !== undefined) {
          const result = this.api.validator.validateResponse(body, op.operationId, o.status);
          for (const e of result.errors ?? []) {
            problems.push(`${where}: body ${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
          }
        }
      }
    }
    const docHeaders = Object.fromEntries(
      Object.entries((documented.headers ?? {}) as Record<string, Json>).map(([k, v]) => [k.toLowerCase(), v]),
    );
    for (const [name, h] of Object.entries(docHeaders)) {
      if (h.required && !o.headers.has(name)) problems.push(`${where}: required header '${name}' missing`);
    }
    const present: Record<string, string> = {};
    for (const [name, value] of o.headers) {
      if (PLAIN_HTTP.has(name)) continue;
      if (!(name in docHeaders)) problems.push(`${where}: header '${name}: ${value.slice(0, 60)}' not documented`);
      else present[name] = value;
    }
    const headerResult = this.api.validator.validateResponseHeaders(present, op.operationId, {
      statusCode: o.status,
      setMatchType: "any" as never,
    });
    for (const e of headerResult.errors ?? []) {
      problems.push(`${where}: header ${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
    }
    return problems;
  }
}
