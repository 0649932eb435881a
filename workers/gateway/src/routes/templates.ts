/**
 * Workflow templates (scope `jobs`, docs/templates.md): create a version from an API- or UI-format
 * workflow with typed inputs detected, list, read (inputs as JSON Schema, an example request), delete,
 * a per-template OpenAPI document, and runs: a run is a job submitted through the jobs submit core, so it
 * has every job guarantee (Idempotency-Key, Prefer: wait, SSE, webhooks, cancel).
 */

import type { TemplateCreate as TemplateCreateBody } from "@comfy-edge/shared/contract/templates";
import { TemplateCreate, TemplateName, TemplateRun } from "@comfy-edge/shared/contract/templates";
import { ApiError } from "@comfy-edge/shared/errors";
import { type Context, Hono } from "hono";
import { capabilityReader } from "../capabilities/pool-caps.ts";
import { chatApp } from "../images/enhance.ts";
import { resolveLlmInputs } from "../images/llm-inputs.ts";
import { checkImagesModel, imagesModelTaken, isImagesModelConflict } from "../images/model-store.ts";
import { validateWorkflow } from "../jobs/validate.ts";
import { parseWith, readJsonValue } from "../lib/body.ts";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import { requirePoolAccess } from "../pools/access.ts";
import { buildTemplate, DEFAULT_SPECS } from "../templates/build.ts";
import type { InputValue, TemplateInput } from "../templates/detect.ts";
import { templateOpenApi } from "../templates/openapi.ts";
import { mergeSpecs } from "../templates/pool-specs.ts";
import { applyInputs, checkRunInputs, exampleRun, inputsSchema } from "../templates/schema.ts";
import type { SpecTable } from "../templates/specs.ts";
import {
  createVersion,
  deleteTemplate,
  getTemplate,
  getVersion,
  listTemplates,
  listVersions,
  type TemplateRow,
} from "../templates/store.ts";
import type { AppEnv } from "../types.ts";
import { submitJob } from "./job-submit.ts";

const MAX_CREATE_BYTES = 8 * 1024 * 1024;
const MAX_RUN_BYTES = 16 * 1024 * 1024;
const MAX_STORED_BYTES = 1024 * 1024;
const IMAGE_REF = /^(https?:\/\/|data:|file:)/i;

export const templateRoutes = new Hono<AppEnv>();
templateRoutes.use("*", apiKeyAuth({ scope: "jobs" }));

/** Input specs for a pool (one reader per isolate): its capability union merged once per digest, else 0.33's. */
function templateSpecsReader() {
  const read = capabilityReader();
  const built = new Map<string, SpecTable>();
  return async function specsFor(env: Env, pool: string): Promise<SpecTable> {
    const caps = await read(env, pool);
    if (!caps) return DEFAULT_SPECS;
    let table = built.get(caps.digest);
    if (!table) {
      table = mergeSpecs(caps.index);
      if (built.size >= 4) built.delete(built.keys().next().value as string);
      built.set(caps.digest, table);
    }
    return table;
  };
}
const specsFor = templateSpecsReader();
const chat = chatApp();

const iso = (ms: number) => new Date(ms).toISOString();

function summary(t: TemplateRow) {
  return {
    name: t.name,
    latest_version: t.latest_version,
    ref: `${t.name}@${t.latest_version}`,
    description: t.description,
    pool: t.pool,
    images_model: t.images_model,
    created_at: iso(t.created_at),
    updated_at: iso(t.updated_at),
  };
}

/** `t2i` or `t2i@3` from the path. */
function ref(c: Context<AppEnv>): { name: string; version: number | null } {
  const raw = c.req.param("name") ?? "";
  const m = /^([^@]+)(?:@(\d{1,9}))?$/.exec(raw);
  if (!m || !TemplateName.safeParse(m[1]).success) {
    throw new ApiError(
      404,
      "template_not_found",
      `No template '${raw.slice(0, 80)}': names are lowercase letters, digits, _ and -, optionally @<version>.`,
    );
  }
  return { name: m[1]!, version: m[2] ? Number(m[2]) : null };
}

function notFound(name: string, version: number | null): ApiError {
  return version === null
    ? new ApiError(
        404,
        "template_not_found",
        `No template '${name}' for this API key's tenant. GET /v1/templates lists yours.`,
      )
    : new ApiError(
        404,
        "template_version_not_found",
        `Template '${name}' has no version ${version}. GET /v1/templates/${name} lists its versions.`,
      );
}

templateRoutes.post("/", async (c) => {
  const auth = c.get("auth");
  const body: TemplateCreateBody = parseWith(TemplateCreate, await readJsonValue(c, { maxBytes: MAX_CREATE_BYTES }));
  if (body.pool) await requirePoolAccess(c.env, body.pool, auth.tenantId, "pool");
  const specs = await specsFor(c.env, body.pool ?? auth.tenant.default_pool ?? "local");
  const built = buildTemplate(body.workflow, body.inputs, specs);
  validateWorkflow(built.workflow);
  if (JSON.stringify(built.workflow).length > MAX_STORED_BYTES) {
    throw new ApiError(413, "workflow_too_large", "The workflow (API format) is larger than 1 MiB.", {
      param: "workflow",
    });
  }
  if (body.images_model)
    await checkImagesModel(c.env.DB, auth.tenantId, body.name, body.images_model, built.inputs, body.images_bindings);
  const version = await createVersion(c.env.DB, auth.tenantId, body.name, {
    description: body.description ?? null,
    pool: body.pool ?? null,
    source: built.source,
    inputs: built.inputs,
    workflow: built.workflow,
    images_model: body.images_model ?? null,
    images_bindings: body.images_bindings ? JSON.stringify(body.images_bindings) : null,
  }).catch((err: unknown) => {
    throw body.images_model && isImagesModelConflict(err) ? imagesModelTaken(body.images_model, null) : err;
  });
  c.header("location", `/v1/templates/${body.name}`);
  return c.json(await view(c, body.name, version), 201);
});

templateRoutes.get("/", async (c) => {
  const rows = await listTemplates(c.env.DB, c.get("auth").tenantId);
  return c.json({ data: rows.map(summary) });
});

async function view(c: Context<AppEnv>, name: string, version: number | null) {
  const tenantId = c.get("auth").tenantId;
  const [template, stored, versions] = await Promise.all([
    getTemplate(c.env.DB, tenantId, name),
    getVersion(c.env.DB, tenantId, name, version),
    listVersions(c.env.DB, tenantId, name),
  ]);
  if (!template || !stored) throw notFound(name, template ? version : null);
  return {
    ...summary(template),
    version: stored.version,
    versions: versions.map((v) => ({
      version: v.version,
      ref: `${name}@${v.version}`,
      description: v.description,
      pool: v.pool,
      source: v.source,
      created_at: iso(v.created_at),
    })),
    inputs: stored.inputs,
    input_schema: inputsSchema(stored.inputs),
    example_request: { method: "POST" as const, path: `/v1/templates/${name}/runs`, body: exampleRun(stored.inputs) },
  };
}

templateRoutes.get("/:name", async (c) => {
  const { name, version } = ref(c);
  const q = c.req.query("version");
  if (q !== undefined && !/^\d{1,9}$/.test(q)) {
    throw new ApiError(400, "invalid_request", `version: expected a version number, got "${q.slice(0, 40)}".`, {
      param: "version",
    });
  }
  return c.json(await view(c, name, q !== undefined ? Number(q) : version));
});

templateRoutes.get("/:name/openapi.json", async (c) => {
  const { name, version } = ref(c);
  const stored = await getVersion(c.env.DB, c.get("auth").tenantId, name, version);
  if (!stored) throw notFound(name, version);
  return c.json(templateOpenApi(new URL(c.req.url).origin, stored, stored.inputs));
});

templateRoutes.delete("/:name", async (c) => {
  const { name } = ref(c);
  if (!(await deleteTemplate(c.env.DB, c.get("auth").tenantId, name))) throw notFound(name, null);
  return c.json({ name, deleted: true as const });
});

/** What a run used: the given values over the named inputs' defaults, and its seeds left to the runner. */
export function usedInputs(inputs: TemplateInput[], given: Record<string, InputValue>) {
  const used: Record<string, InputValue> = {};
  const seeds: Record<string, string[]> = {};
  for (const input of inputs) {
    const named = !input.hidden && !input.name.includes(".");
    const value = given[input.name] ?? input.default;
    if (named || input.name in given) used[input.name] = value;
    if (input.seed && value === -1) seeds[input.name] = input.from;
    if (input.kind === "image" && !input.hidden && (typeof value !== "string" || !IMAGE_REF.test(value))) {
      throw new ApiError(
        422,
        "missing_input",
        `inputs.${input.name}: this template needs an image (an https:// URL, a data:image/... URL or file:<id> from POST /v1/files); its default ${JSON.stringify(value)} names a file on the author's machine.`,
        { param: `inputs.${input.name}` },
      );
    }
  }
  return { used, seeds };
}

templateRoutes.post("/:name/runs", async (c) => {
  const { name, version: pinned } = ref(c);
  const body = parseWith(TemplateRun, await readJsonValue(c, { maxBytes: MAX_RUN_BYTES }));
  const version = body.version ?? pinned;
  const stored = await getVersion(c.env.DB, c.get("auth").tenantId, name, version);
  if (!stored) {
    const exists = version !== null && (await getTemplate(c.env.DB, c.get("auth").tenantId, name));
    throw notFound(name, exists ? version : null);
  }
  // {"llm": {...}} values are written by the LLM proxy first (docs/images.md "Chains").
  const llm = await resolveLlmInputs(c, chat, body.inputs);
  const given = checkRunInputs(stored.inputs, llm.inputs);
  const { used, seeds } = usedInputs(stored.inputs, given);
  const job = {
    workflow: applyInputs(stored.workflow, stored.inputs, given),
    ...((body.pool ?? stored.pool) ? { pool: body.pool ?? stored.pool! } : {}),
    ...(body.webhook ? { webhook: body.webhook } : {}),
    ...(body.output ? { output: body.output } : {}),
    ...(body.metadata ? { metadata: body.metadata } : {}),
    ...(body.timeout_s ? { timeout_s: body.timeout_s } : {}),
    ...(body.cache === false ? { cache: false } : {}),
  };
  return submitJob(c, job, {
    // The request as sent: a retry after a new version was made replays the job it created.
    idempotencyBody: { template: c.req.param("name"), ...body },
    template: { name, version: stored.version, inputs: used, seeds },
    steps: llm.steps,
  });
});
