/**
 * Schema errors as the gateway reports them (pure: no bindings, so pure modules such as the template
 * builder use it outside the Worker too).
 */

import { ApiError, formatParam } from "@comfy-edge/shared/errors";
import type { z } from "zod";
import { issueMessage } from "./issue-message.ts";

/**
 * Turns the first zod issue into a 400 `invalid_request` naming the field and saying what was expected
 * and what came (lib/issue-message.ts). `raw` is the value the schema was applied to.
 */
export function schemaError(error: z.ZodError, prefix = "", raw?: unknown): ApiError {
  const issue = error.issues[0];
  if (!issue) return new ApiError(400, "invalid_request", "The request is invalid.");
  let path: PropertyKey[] = [...issue.path];
  let message = issueMessage(issue, raw);
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    path = [...path, key];
    message = `unknown field '${key}'`;
  }
  const param = formatParam(path, prefix) || null;
  return new ApiError(400, "invalid_request", param ? `${param}: ${message}` : message, { param });
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, prefix = ""): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw schemaError(result.error, prefix, value);
  return result.data;
}
