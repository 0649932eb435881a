/** Workflow template API shapes (docs/templates.md): create, run, and the views. */
import { z } from "zod";
import { JobCreate } from "./jobs.ts";

export const TemplateName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    "must be 1-63 lowercase letters, digits, _ or -, starting with a letter or digit",
  );

/** A template input's name: letters, digits and _ (a detected or author-given name), or `node.input`. */
export const TEMPLATE_INPUT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$|^[A-Za-z0-9_.:-]{1,64}\.[A-Za-z_][A-Za-z0-9_]{0,99}$/;

const Target = z.string().min(3).max(170).describe('"<node id>.<input name>", e.g. "6.text"');
const Targets = z.union([Target, z.array(Target).min(1).max(32)]);
export const InputOverride = z.union([
  Targets,
  z.literal(false),
  z
    .object({
      from: Targets.optional(),
      default: z.union([z.string().max(100_000), z.number(), z.boolean()]).optional(),
      description: z.string().max(1000).optional(),
      hidden: z.boolean().optional(),
    })
    .strict(),
]);
export type InputOverride = z.infer<typeof InputOverride>;

/** OpenAI Images API parameters a template input can be bound to (docs/images.md). */
export const IMAGES_PARAMS = ["prompt", "width", "height", "n", "steps", "seed", "image", "mask"] as const;
export const ImagesModelName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, "1-64 letters, digits, '.', '_', ':' or '-'");
export const ImagesBindings = z
  .partialRecord(
    z.enum(IMAGES_PARAMS),
    z.union([z.string().min(1).max(170), z.array(z.string().min(1).max(170)).min(1).max(4)]),
  )
  .describe(
    'Which template input each OpenAI parameter sets, e.g. {"prompt": "6.text", "image": ["image", "image_12"]}',
  );
export type ImagesBindings = z.infer<typeof ImagesBindings>;

export const TemplateCreate = z
  .object({
    name: TemplateName,
    workflow: z
      .record(z.string(), z.unknown())
      .describe("ComfyUI API format (Export (API)) or UI format (what Save writes: nodes, links, widgets_values)"),
    pool: JobCreate.shape.pool,
    description: z.string().max(2000).optional(),
    inputs: z
      .record(
        z.string().regex(TEMPLATE_INPUT_NAME, "input names are letters, digits and _ (or node.input)"),
        InputOverride,
      )
      .refine((o) => Object.keys(o).length <= 200, "at most 200 input overrides")
      .optional()
      .describe(
        'Rename, define, share or hide inputs: {"prompt": "6.text", "style": {"from": "12.text", "default": "..."}, "both": {"from": ["6.text", "16.text"]}, "seed": false}',
      ),
    images_model: ImagesModelName.optional().describe(
      "Serve this template as an image model of the OpenAI Images API under this name (docs/images.md)",
    ),
    images_bindings: ImagesBindings.optional(),
  })
  .strict();
export type TemplateCreate = z.infer<typeof TemplateCreate>;

export const TemplateRun = z
  .object({
    inputs: z
      .record(z.string().max(200), z.unknown())
      .refine((o) => Object.keys(o).length <= 500, "at most 500 inputs")
      .default({})
      .describe("Values by input name (GET /v1/templates/:name lists them with their types)"),
    version: z.int().min(1).optional().describe("Pin a version (default: the latest)"),
    pool: JobCreate.shape.pool,
    webhook: JobCreate.shape.webhook,
    output: JobCreate.shape.output,
    metadata: JobCreate.shape.metadata,
    timeout_s: JobCreate.shape.timeout_s,
    cache: JobCreate.shape.cache,
  })
  .strict();
export type TemplateRun = z.infer<typeof TemplateRun>;

const Scalar = z.union([z.string(), z.number(), z.boolean()]);

export const TemplateInputView = z
  .object({
    name: z.string(),
    from: z.array(z.string()).describe("The graph inputs it sets, as node.input"),
    kind: z.enum(["int", "float", "string", "boolean", "enum", "file", "image"]),
    default: Scalar,
    min: z.number().optional(),
    max: z.number().optional(),
    step: z.number().optional(),
    options: z.array(z.string()).optional(),
    multiline: z.boolean().optional(),
    seed: z.boolean().optional().describe("-1 lets the runner pick a seed"),
    description: z.string().optional(),
    hidden: z.boolean().optional(),
  })
  .meta({ id: "TemplateInput" });

export const TemplateSummary = z
  .object({
    name: z.string(),
    latest_version: z.int(),
    ref: z.string().describe("name@latest_version"),
    description: z.string().nullable(),
    pool: z.string().nullable(),
    images_model: z.string().nullable().optional().describe("The Images API model name it is served as"),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: "TemplateSummary" });

export const TemplateVersionView = z.object({
  version: z.int(),
  ref: z.string(),
  description: z.string().nullable(),
  pool: z.string().nullable(),
  source: z.enum(["ui", "api"]),
  created_at: z.string(),
});

export const TemplateView = TemplateSummary.extend({
  version: z.int().describe("The version shown (the latest unless ?version= or name@N)"),
  versions: z.array(TemplateVersionView),
  inputs: z.array(TemplateInputView),
  input_schema: z.record(z.string(), z.unknown()).describe("JSON Schema (2020-12) of a run's inputs"),
  example_request: z.object({ method: z.literal("POST"), path: z.string(), body: z.record(z.string(), z.unknown()) }),
}).meta({ id: "Template" });
