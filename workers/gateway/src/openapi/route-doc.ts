import type { Scope } from "@comfy-edge/shared/contract";
import type { z } from "zod";

/** A request or response header as the document states it. */
export interface HeaderDoc {
  description: string;
  /** Default: a string. */
  schema?: z.ZodType;
  /** Request: the client must send it. Response: the gateway always sends it with this status. */
  required?: boolean;
  example?: string;
}

export interface ResponseDoc {
  description: string;
  /** Body schema of `contentType` (default application/json); no schema: no body. */
  schema?: z.ZodType;
  contentType?: string;
  /** Other media types the same status may answer with (e.g. `text/event-stream` beside JSON). */
  alternatives?: Record<string, z.ZodType>;
  /** Headers of this response beside the ones every response carries (x-request-id, RateLimit-*). */
  headers?: Record<string, HeaderDoc>;
  example?: unknown;
}

/** What /openapi.json says about one route; each route module exports the docs of its own routes. */
export interface RouteDoc {
  method: "get" | "post" | "patch" | "put" | "delete";
  /** Full path in Hono syntax (`/admin/v1/keys/:id`). */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  security: "admin" | "apiKey" | "runner" | "none";
  scope?: Scope;
  body?: z.ZodType;
  /** The body may be left out entirely (default: required when `body` is given). */
  bodyOptional?: boolean;
  bodyExample?: unknown;
  query?: z.ZodType;
  /** Request headers the route reads. */
  headers?: Record<string, HeaderDoc>;
  responses: Record<number, ResponseDoc>;
}
