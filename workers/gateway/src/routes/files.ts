/** `POST /v1/files`: a presigned PUT for a client upload, referred to in a workflow as `file:<id>`. */

import { ErrorEnvelope, FileCreate, FileUpload } from "@comfy-edge/shared/contract";
import { newId } from "@comfy-edge/shared/crypto";
import { Presigner } from "@comfy-edge/shared/presign";
import { Hono } from "hono";
import { readJson } from "../lib/body.ts";
import { iso } from "../lib/time.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";

export const UPLOAD_URL_TTL_S = 3600;

export const fileRoutes = new Hono<AppEnv>();
fileRoutes.use("*", apiKeyAuth({ scope: "jobs" }));

fileRoutes.post("/", async (c) => {
  const auth = c.get("auth");
  const body = await readJson(c, FileCreate, { maxBytes: 16 * 1024 });
  const id = newId("file");
  const signed = await new Presigner(c.env, new URL(c.req.url).origin).sign(
    "PUT",
    `uploads/${auth.tenantId}/${id}`,
    UPLOAD_URL_TTL_S,
  );
  return c.json(
    { id, upload_url: signed.url, expires_at: iso(signed.expiresAt), content_type: body.content_type },
    201,
  );
});

export const fileDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/v1/files",
    summary: "Get an upload URL for an input image",
    description:
      "PUT the bytes to `upload_url` (with the given Content-Type) within an hour, then use `file:<id>` as a LoadImage `image` input. At submit the file gets the checks a data: image gets: a png, jpeg, webp or gif by its first bytes, matching the Content-Type it was uploaded with, at most MAX_INPUT_BYTES (else 422 `invalid_file`).",
    tag: "Jobs",
    security: "apiKey",
    scope: "jobs",
    body: FileCreate,
    responses: {
      201: { description: "Upload URL", schema: FileUpload },
      400: { description: "Invalid request", schema: ErrorEnvelope },
      401: { description: "Missing or invalid API key", schema: ErrorEnvelope },
    },
  },
];
