/**
 * GET /v1/jobs/:id/outputs/:index: an output's bytes (mounted under /v1/jobs/:id/outputs, which
 * authenticates). Served as workers/shared/download.ts decides: known media types inline, anything else
 * `application/octet-stream` as an attachment, always `nosniff` and a sandboxing CSP.
 */

import { downloadHeaders, INLINE_MEDIA_TYPES } from "@comfy-edge/shared/download";
import { ApiError } from "@comfy-edge/shared/errors";
import { Hono } from "hono";
import { jobStub } from "../jobs/public.ts";
import { authedJsonErrors } from "../openapi/common.ts";
import { OUTPUT_DOWNLOAD } from "../openapi/params.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";

export const outputRoutes = new Hono<AppEnv>();

outputRoutes.get("/:index", async (c) => {
  const auth = c.get("auth");
  const id = c.req.param("id") ?? "";
  const view = await jobStub(c.env, id)?.get(auth.tenantId);
  if (!view) throw new ApiError(404, "job_not_found", `No job '${id.slice(0, 80)}' for this API key's tenant.`);
  const raw = c.req.param("index");
  const index = /^\d{1,6}$/.test(raw) ? Number(raw) : Number.NaN;
  const output = Number.isInteger(index) ? view.outputs[index] : undefined;
  if (!output) {
    throw new ApiError(
      404,
      "output_not_found",
      `Job ${id} has no output ${raw.slice(0, 20)} (it has ${view.outputs.length}; indexes start at 0).`,
      { param: "index" },
    );
  }
  const object = await c.env.FILES.get(output.key);
  if (!object) throw new ApiError(404, "output_not_found", "The output object no longer exists.", { param: "index" });
  // c.body (not `new Response`): headers the middleware prepared (RateLimit-*, x-request-id) stay on.
  return c.body(object.body, 200, { ...downloadHeaders(output), "content-length": String(object.size) });
});

export const outputDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/v1/jobs/:id/outputs/:index",
    summary: "Download an output",
    description: `The output's bytes. Known media types (${[...INLINE_MEDIA_TYPES].join(", ")}) are served inline with their type; anything else as application/octet-stream with \`Content-Disposition: attachment\`. Always \`X-Content-Type-Options: nosniff\` and \`Content-Security-Policy: default-src 'none'; sandbox\`; the file name is in \`Content-Disposition\` (\`filename*=UTF-8''...\`). \`outputs[].url\` serves the same types without an API key until it expires.`,
    tag: "Jobs",
    security: "apiKey",
    scope: "jobs",
    responses: {
      200: OUTPUT_DOWNLOAD,
      ...authedJsonErrors("jobs", { 404: "No such job or output" }),
    },
  },
];
