import type { z } from "zod";
import type { Scope } from "../../../shared/contract/index.ts";

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
  query?: z.ZodType;
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
}
