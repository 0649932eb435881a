/**
 * Model assets (docs/models.md): a pool's manifest of model files its runners download into ComfyUI's
 * model folders, an optional warmup workflow, and what each runner reports about its downloads.
 */
import { z } from "zod";
import { Workflow } from "./jobs.ts";

/** ComfyUI model folders a manifest may write into (folder_paths names). */
export const MODEL_FOLDERS = [
  "checkpoints",
  "loras",
  "vae",
  "controlnet",
  "upscale_models",
  "embeddings",
  "clip",
  "clip_vision",
  "unet",
  "diffusion_models",
  "text_encoders",
  "style_models",
  "hypernetworks",
  "gligen",
  "photomaker",
] as const;
export const ModelFolder = z.enum(MODEL_FOLDERS);
export type ModelFolder = z.infer<typeof ModelFolder>;

/** A plain file name: no path separators, no leading dot, no control characters. */
export const ModelFilename = z
  .string()
  .min(1)
  .max(200)
  .regex(
    /^[A-Za-z0-9_][A-Za-z0-9_.+ -]*$/,
    "must be a plain file name (letters, digits, _ . + - and spaces; no '/' or leading '.'), e.g. sd15.safetensors",
  );

export const Sha256Hex = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, "must be the file's SHA-256 as 64 hex digits")
  .transform((value) => value.toLowerCase());

export const ModelEntry = z
  .object({
    url: z
      .string()
      .max(4096)
      .refine(
        (value) => /^https?:\/\//i.test(value),
        "must be an https:// URL (http:// only where the deployment allows it)",
      ),
    folder: ModelFolder,
    filename: ModelFilename,
    sha256: Sha256Hex,
    size: z
      .int()
      .min(1)
      .max(2 ** 45)
      .optional(),
  })
  .strict();
export type ModelEntry = z.infer<typeof ModelEntry>;

export const UrlModelsSetting = z
  .object({
    max_bytes: z
      .int()
      .min(1)
      .max(2 ** 40),
  })
  .strict();

export const PoolManifestBody = z
  .object({
    models: z.array(ModelEntry).max(500),
    warmup: z.object({ workflow: Workflow }).strict().nullish(),
    /** Jobs in this pool may name model files by URL (still only from the tenant's model hosts); null = no. */
    url_models: UrlModelsSetting.nullish(),
  })
  .strict()
  .superRefine((body, ctx) => {
    const seen = new Map<string, number>();
    body.models.forEach((model, index) => {
      const key = `${model.folder}/${model.filename}`;
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["models", index, "filename"],
          message: `${key} is listed twice (models[${first}] and models[${index}])`,
        });
      }
      seen.set(key, index);
    });
  });
export type PoolManifestBody = z.infer<typeof PoolManifestBody>;

/** The stored manifest; `digest` changes whenever the manifest changes or an operator asks for a re-sync. */
export const PoolManifest = z.object({
  pool: z.string(),
  digest: z.string(),
  models: z.array(ModelEntry),
  warmup: z.object({ workflow: Workflow }).nullable(),
  url_models: UrlModelsSetting.nullable(),
  updated_at: z.string(),
});
export type PoolManifest = z.infer<typeof PoolManifest>;

export const ModelFileState = z.enum(["present", "pending", "downloading", "failed"]);

/** One runner's view of its model files, sent with PUT /runner/v1/manifest/status. */
export const RunnerModelsReport = z
  .object({
    runner_id: z.string().min(1).max(128),
    manifest_digest: z.string().max(128).nullable(),
    state: z.enum(["syncing", "synced", "failed", "warming_up", "ready"]),
    warmup: z
      .object({
        state: z.enum(["none", "running", "passed", "failed"]),
        seconds: z.number().nullable(),
        error: z.string().max(2000).nullable(),
      })
      .strict(),
    files: z
      .array(
        z
          .object({
            folder: z.string().max(64),
            filename: z.string().max(200),
            state: ModelFileState,
            bytes: z.int().min(0),
            size: z.int().min(0).nullable(),
            error: z.string().max(2000).nullable(),
            source: z.enum(["manifest", "url"]),
          })
          .strict(),
      )
      .max(2000),
  })
  .strict();
export type RunnerModelsReport = z.infer<typeof RunnerModelsReport>;

export const PoolModelsView = z.object({
  pool: z.string(),
  manifest_digest: z.string().nullable(),
  runners: z.array(RunnerModelsReport.extend({ reported_at: z.string() })),
});
export type PoolModelsView = z.infer<typeof PoolModelsView>;

export const TenantModelHosts = z
  .object({
    hosts: z
      .array(
        z
          .string()
          .min(1)
          .max(253)
          .regex(/^(\*\.)?[^\s/:@*]+$/, "must be a host name like models.example.com or a wildcard like *.example.com"),
      )
      .max(100),
  })
  .strict();

/** GET /v1/pools/:name `models` (tenant-facing): names and counts only, no host paths, errors or URLs. */
export const ModelStateCounts = z.object({ present: z.int(), pending: z.int(), downloading: z.int(), failed: z.int() });
export type ModelStateCounts = z.infer<typeof ModelStateCounts>;

export const PoolModelState = z
  .object({
    manifest_digest: z.string().nullable().describe("The pool's manifest (null: none)"),
    files: z
      .array(z.object({ folder: z.string(), filename: z.string() }).extend(ModelStateCounts.shape))
      .describe("Each manifest file, with how many runners hold it, wait for it, fetch it or failed to"),
    runners: z
      .array(
        z.object({
          state: z.enum(["syncing", "synced", "failed", "warming_up", "ready"]),
          current: z.boolean().describe("Synced against the current manifest"),
          files: ModelStateCounts.describe("This runner's manifest files by state"),
          url_models: z.int().describe("Model files it holds that jobs named by URL (the runner's cache)"),
          reported_at: z.string(),
        }),
      )
      .describe("Runners that reported their model files, by report time"),
  })
  .meta({ id: "PoolModelState" });
export type PoolModelState = z.infer<typeof PoolModelState>;
