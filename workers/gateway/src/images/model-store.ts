/**
 * Image models in D1 (migration 0011): a template's `images_model` column names it per tenant; its
 * `images_bindings` (JSON) overrides the derived bindings.
 */
import { ImagesBindings, type ImagesBindings as Overrides } from "@comfy-edge/shared/contract/templates";
import { ApiError } from "@comfy-edge/shared/errors";
import type { TemplateInput } from "../templates/detect.ts";
import { deriveBindings } from "./bindings.ts";

export interface ImageModelRow {
  name: string;
  images_model: string;
  images_bindings: Overrides | undefined;
  created_at: number;
}

type Raw = { name: string; images_model: string; images_bindings: string | null; created_at: number };
const parse = (r: Raw): ImageModelRow => ({
  ...r,
  images_bindings: r.images_bindings ? ImagesBindings.parse(JSON.parse(r.images_bindings)) : undefined,
});

export async function findImageModel(db: D1Database, tenantId: string, model: string): Promise<ImageModelRow | null> {
  const row = await db
    .prepare(
      "SELECT name, images_model, images_bindings, created_at FROM templates WHERE tenant_id = ? AND images_model = ?",
    )
    .bind(tenantId, model)
    .first<Raw>();
  return row ? parse(row) : null;
}

export async function listImageModels(db: D1Database, tenantId: string): Promise<ImageModelRow[]> {
  const { results } = await db
    .prepare(
      "SELECT name, images_model, images_bindings, created_at FROM templates WHERE tenant_id = ? AND images_model IS NOT NULL ORDER BY images_model",
    )
    .bind(tenantId)
    .all<Raw>();
  return results.map(parse);
}

export function imagesModelTaken(model: string, by: string | null): ApiError {
  return new ApiError(
    409,
    "images_model_taken",
    `images_model: '${model}' is already served by ${by ? `template '${by}'` : "another template"}. Choose another name or remove it there.`,
    { param: "images_model" },
  );
}

/** A create that lost a race for the same name to another template (the unique index refused it). */
export function isImagesModelConflict(err: unknown): boolean {
  return (
    err instanceof Error && /UNIQUE constraint failed: templates\.tenant_id, templates\.images_model/.test(err.message)
  );
}

/** Before a template version is stored as an image model: the name is free and the bindings resolve. */
export async function checkImagesModel(
  db: D1Database,
  tenantId: string,
  template: string,
  model: string,
  inputs: TemplateInput[],
  overrides: Overrides | undefined,
): Promise<void> {
  const taken = await findImageModel(db, tenantId, model);
  if (taken && taken.name !== template) throw imagesModelTaken(model, taken.name);
  deriveBindings(inputs, overrides);
}
