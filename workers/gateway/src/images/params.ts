/** OpenAI Images request shapes (docs/images.md): a generation body (JSON) and an edit form's fields. */

import { ImagesModelName } from "@comfy-edge/shared/contract/templates";
import { z } from "zod";
import { PromptEnhance } from "./enhance.ts";

const Common = {
  model: ImagesModelName.describe("An image model: a template created with images_model (GET /v1/models lists them)"),
  prompt: z.string().min(1).max(32_000),
  n: z.int().min(1).max(10).default(1),
  size: z.string().max(20).optional().describe('"WIDTHxHEIGHT" fitted to the template\'s size inputs, or "auto"'),
  quality: z
    .enum(["auto", "low", "medium", "high", "standard", "hd"])
    .optional()
    .describe("Scales the template's steps"),
  response_format: z.enum(["url", "b64_json"]).default("url"),
  output_format: z.enum(["png", "jpeg", "webp"]).optional(),
  output_compression: z.int().min(0).max(100).optional(),
  background: z.enum(["auto", "opaque", "transparent"]).optional().describe("Accepted; the template decides"),
  moderation: z.enum(["auto", "low"]).optional(),
  user: z.string().max(256).optional(),
  seed: z.int().min(-1).max(Number.MAX_SAFE_INTEGER).optional().describe("Extension: the template's seed input"),
  prompt_enhance: PromptEnhance.optional(),
};

export const ImageGenerate = z
  .object({
    ...Common,
    stream: z
      .boolean()
      .optional()
      .describe(
        "Answer as server-sent events: partial_image events (partial_images), then image_generation.completed per image",
      ),
    partial_images: z
      .int()
      .min(0)
      .max(3)
      .optional()
      .describe(
        "With stream: up to this many image_generation.partial_image events per image, from the sampler's live previews (fewer if the image finishes first; JPEG frames of tens of KiB)",
      ),
  })
  .strict()
  .meta({ id: "ImageGenerateRequest" });
export type ImageGenerate = z.infer<typeof ImageGenerate>;

const int = z.preprocess((v) => (typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v), z.int());
/** The non-file fields of a multipart edit (numbers arrive as text). */
export const ImageEditFields = z
  .object({
    ...Common,
    n: int.pipe(z.int().min(1).max(10)).default(1),
    output_compression: int.pipe(z.int().min(0).max(100)).optional(),
    seed: int.pipe(z.int().min(-1).max(Number.MAX_SAFE_INTEGER)).optional(),
    prompt_enhance: z
      .preprocess((v) => {
        if (typeof v !== "string") return v;
        try {
          return JSON.parse(v);
        } catch {
          return v;
        }
      }, PromptEnhance)
      .optional()
      .describe('A JSON text: {"model": ..., "instruction"?: ...}'),
    input_fidelity: z.enum(["low", "high"]).optional(),
    edit_session: z.string().max(100).optional().describe("Extension: continue a multi-turn edit session"),
    reset: z.enum(["true", "false", "1", "0"]).optional().describe("Extension: clear the session's turns first"),
    stream: z
      .enum(["true", "false", "1", "0"])
      .optional()
      .describe(
        "Answer as server-sent events: image_edit.partial_image events (partial_images), then image_edit.completed per image (each carries edit_session)",
      ),
    partial_images: int
      .pipe(z.int().min(0).max(3))
      .optional()
      .describe("With stream: up to this many image_edit.partial_image events per image, from the sampler's previews"),
  })
  .strict();
export type ImageEditFields = z.infer<typeof ImageEditFields>;

export const ImageData = z.object({
  url: z.string().optional(),
  b64_json: z.string().optional(),
  revised_prompt: z.string().optional(),
});

export const ImagesResponse = z
  .object({
    created: z.int(),
    data: z.array(ImageData),
    background: z.string().optional(),
    output_format: z.string().optional(),
    size: z.string().optional(),
    quality: z.string().optional(),
    usage: z.object({
      input_tokens: z.int(),
      output_tokens: z.int(),
      total_tokens: z.int(),
      input_tokens_details: z.object({ text_tokens: z.int(), image_tokens: z.int() }),
    }),
    edit_session: z.string().optional().describe("Extension (edits): the session this turn belongs to"),
  })
  .meta({ id: "ImagesResponse" });
export type ImagesResponse = z.infer<typeof ImagesResponse>;

export const SessionTurn = z.object({
  prompt: z.string(),
  revised_prompt: z.string(),
  job_ids: z.array(z.string()),
  outputs: z.array(z.object({ key: z.string(), content_type: z.string() })),
  created_at: z.int(),
});
export type SessionTurn = z.infer<typeof SessionTurn>;

export const SessionView = z
  .object({
    id: z.string(),
    object: z.literal("image.edit_session"),
    model: z.string(),
    created_at: z.string(),
    expires_at: z.string(),
    turns: z.array(
      z.object({
        prompt: z.string(),
        revised_prompt: z.string(),
        job_ids: z.array(z.string()),
        outputs: z.array(z.object({ url: z.string(), content_type: z.string() })),
        created_at: z.string(),
      }),
    ),
  })
  .meta({ id: "ImageEditSession" });
