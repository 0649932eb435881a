/** OpenAPI route docs of the Images API (routes/images.ts, docs/images.md). */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { z } from "zod";
import { authedJsonErrors } from "../openapi/common.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { ImageEditFields, ImageGenerate, ImagesResponse, SessionView } from "./params.ts";

const E = (description: string) => ({ description, schema: ErrorEnvelope });
const common = { tag: "Images", security: "apiKey" as const, scope: "jobs" as const };
const JOB_IDS = {
  "x-job-id": { description: "The job(s) the request ran, comma-separated (GET /v1/jobs/:id)", required: true },
};
const runErrors = {
  400: E("A parameter of the wrong shape or one the model's template cannot take (param names it)"),
  ...authedJsonErrors("jobs", {
    404: "model_not_found: no image model of that name for the tenant",
    429: "Rate limited, or the tenant's queued-job limit",
  }),
  409: E("job_canceled"),
  413: E("Body or an image too large"),
  422: E("A bound template input refused the value (invalid_input)"),
  502: E("image_generation_failed: the job failed (the message says why; x-job-id names it)"),
  504: E("image_generation_timeout: the job(s) did not finish within 300 s and keep running (x-job-id)"),
};

const EditForm = ImageEditFields.extend({
  image: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .describe("image or image[]: up to 4 PNG/JPEG/WebP files (16 MiB each) or https:// URLs"),
  mask: z.string().optional().describe("A PNG mask file"),
}).meta({ id: "ImageEditRequest" });

export const imageDocs: RouteDoc[] = [
  {
    ...common,
    method: "post",
    path: "/v1/images/generations",
    summary: "Generate images with a template served as an image model (OpenAI Images API)",
    description:
      "Runs the model's template as job(s) and answers once they finish. prompt, size (fitted to the width/height inputs), n (batch size input, else n runs), quality (scales steps), seed (extension), output_format/output_compression (the job's output options), response_format url|b64_json.",
    body: ImageGenerate,
    bodyExample: { model: "sd15", prompt: "a lighthouse at dusk", n: 1, size: "512x512" },
    responses: {
      200: {
        description: "The images (stream: true: server-sent image_generation.completed events)",
        schema: ImagesResponse,
        alternatives: { "text/event-stream": z.string() },
        headers: JOB_IDS,
      },
      ...runErrors,
    },
  },
  {
    ...common,
    method: "post",
    path: "/v1/images/edits",
    summary: "Edit or compose images (multipart, OpenAI Images API), optionally in a multi-turn session",
    description:
      "multipart/form-data: image or image[] (up to 4), mask, prompt and the generation options. edit_session (extension) continues a session: without images the turn edits the session's last output; with images it starts over; reset=true clears it. The answer carries edit_session.",
    body: EditForm,
    responses: {
      200: {
        description:
          "The images and the session (stream: true: server-sent image_edit.partial_image and image_edit.completed events, each completed event carrying edit_session; the turn is saved before them)",
        schema: ImagesResponse,
        alternatives: { "text/event-stream": z.string() },
        headers: {
          ...JOB_IDS,
          "x-edit-session": { description: "stream: true only: the session this turn belongs to", required: false },
        },
      },
      ...runErrors,
      404: E("model_not_found, or edit_session_not_found (unknown or expired session)"),
      415: E("The body is not multipart/form-data"),
    },
  },
  {
    ...common,
    method: "get",
    path: "/v1/images/sessions/:id",
    summary: "An edit session's turns: prompts, jobs and outputs (signed URLs)",
    responses: {
      200: { description: "The session", schema: SessionView },
      401: E("Missing, invalid or revoked API key"),
      403: E("Key lacks the jobs scope"),
      404: E("edit_session_not_found: unknown, expired or another tenant's"),
    },
  },
];
