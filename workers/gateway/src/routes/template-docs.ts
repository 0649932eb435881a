/** OpenAPI route docs of the template routes (routes/templates.ts). */

import { ErrorEnvelope, Job } from "@comfy-edge/shared/contract";
import { TemplateCreate, TemplateRun, TemplateSummary, TemplateView } from "@comfy-edge/shared/contract/templates";
import { z } from "zod";
import { authedJsonErrors } from "../openapi/common.ts";
import { IDEMPOTENCY_KEY, PREFER_WAIT, SUBMIT_RESPONSE_HEADERS } from "../openapi/params.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";

const E = (description: string) => ({ description, schema: ErrorEnvelope });
const authErrors = authedJsonErrors("jobs");
const bodyErrors = {
  400: E("Malformed JSON or a field of the wrong shape (param names it)"),
  413: E("Body or workflow too large"),
  415: E("Body is not application/json"),
};
const common = { tag: "Templates", security: "apiKey" as const, scope: "jobs" as const };
const VERSION_QUERY = z.object({
  version: z.string().optional().meta({ description: "A version number (default: the latest); or use name@N" }),
});

export const templateDocs: RouteDoc[] = [
  {
    ...common,
    method: "post",
    path: "/v1/templates",
    summary: "Create a template, or a new version of one",
    description:
      "`workflow` in API format or UI format (converted with the pool's node input specs). Inputs are detected and typed (prompt, negative_prompt, seed, steps, cfg, sampler_name, scheduler, denoise, width, height, batch_size, image, checkpoint, lora, ...; every other widget as `node.input`); `inputs` renames, defines, shares or hides them. Each create makes an immutable version `name@N`.",
    body: TemplateCreate,
    bodyExample: {
      name: "t2i",
      workflow: { nodes: [], links: [] },
      description: "SD1.5 text to image",
      inputs: { style: { from: "7.text", default: "blurry" }, "9.filename_prefix": false },
    },
    responses: {
      201: {
        description: "The new version",
        schema: TemplateView,
        headers: { Location: { description: "The template's URL", required: true, example: "/v1/templates/t2i" } },
      },
      ...bodyErrors,
      422: E(
        "Workflow refused: unknown_node_class (a class the pool lacks), unsupported_workflow (group node, subgraph), invalid_workflow, invalid_template_input (param inputs.<name>), unknown_pool",
      ),
      ...authErrors,
    },
  },
  {
    ...common,
    method: "get",
    path: "/v1/templates",
    summary: "List templates",
    responses: { 200: { description: "By name", schema: z.object({ data: z.array(TemplateSummary) }) }, ...authErrors },
  },
  {
    ...common,
    method: "get",
    path: "/v1/templates/:name",
    summary: "Get a template: versions, typed inputs, their JSON Schema and an example run request",
    query: VERSION_QUERY,
    responses: {
      200: { description: "The template at the version asked for", schema: TemplateView },
      400: E("Bad version"),
      404: E("No such template or version"),
      ...authErrors,
    },
  },
  {
    ...common,
    method: "get",
    path: "/v1/templates/:name/openapi.json",
    summary: "OpenAPI 3.1 document of the template's run operation (its request body is the inputs' JSON Schema)",
    responses: {
      200: { description: "OpenAPI 3.1 document", schema: z.record(z.string(), z.unknown()) },
      404: E("No such template or version"),
      ...authErrors,
    },
  },
  {
    ...common,
    method: "delete",
    path: "/v1/templates/:name",
    summary: "Delete a template and all its versions (jobs already run keep their graph)",
    responses: {
      200: { description: "Deleted", schema: z.object({ name: z.string(), deleted: z.literal(true) }) },
      404: E("No such template"),
      ...authErrors,
    },
  },
  {
    ...common,
    method: "post",
    path: "/v1/templates/:name/runs",
    summary: "Run a template: a job with the given inputs",
    description:
      "The answer is a job (GET /v1/jobs/:id, SSE, cancel, webhooks) recording `template` {name, version, ref, inputs}; a seed given as -1 shows the seed the runner chose once it started. Pin a version with `version` or name@N. Headers: `Idempotency-Key`, `Prefer: wait=N`.",
    body: TemplateRun,
    bodyExample: {
      inputs: { prompt: "a lighthouse at dusk", seed: -1 },
      webhook: { url: "https://hooks.example.com/comfy" },
    },
    headers: { "Idempotency-Key": IDEMPOTENCY_KEY, Prefer: PREFER_WAIT },
    responses: {
      200: { description: "Finished within Prefer: wait", schema: Job, headers: SUBMIT_RESPONSE_HEADERS },
      202: { description: "Queued (or running)", schema: Job, headers: SUBMIT_RESPONSE_HEADERS },
      ...bodyErrors,
      404: E("No such template or version"),
      409: E("Idempotency-Key reused with another body"),
      422: E(
        "An input out of range, not in its enum, unknown or missing (invalid_input, unknown_input, missing_input; param inputs.<name>), or the workflow refused (node policy, unsafe URL, unknown pool)",
      ),
      ...authErrors,
    },
  },
];
