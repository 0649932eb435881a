/**
 * An edit's multipart form (OpenAI's `images.edit` wire format) read with the platform's FormData parser:
 * the fields checked by zod, `image` / `image[]` (up to 4) and `mask` as files (PNG, JPEG or WebP, each at
 * most MAX_IMAGE_BYTES) turned into data: URLs, or as https:// URLs left to the submit core's URL guard.
 */

import { toBase64 } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import type { Context } from "hono";
import { parseWith, readBodyBytes } from "../lib/body.ts";
import type { AppEnv } from "../types.ts";
import { ImageEditFields } from "./params.ts";

export const MAX_IMAGE_BYTES = 16 * 1024 * 1024;
export const MAX_IMAGES = 4;
const MAX_FORM_BYTES = (MAX_IMAGES + 1) * MAX_IMAGE_BYTES + 1024 * 1024;
type Entry = string | File;
const TYPES = new Set(["image/png", "image/jpeg", "image/webp"]);

/** The real type from the first bytes (a declared type is not trusted). */
function sniff(b: Uint8Array): string | null {
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "image/png";
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45)
    return "image/webp";
  return null;
}

async function imageValue(value: Entry, param: string): Promise<string> {
  if (typeof value === "string") {
    if (/^https?:\/\//i.test(value)) return value;
    throw new ApiError(
      400,
      "invalid_image",
      `${param}: expected an image file (multipart) or an https:// URL, got text.`,
      { param },
    );
  }
  if (value.size > MAX_IMAGE_BYTES) {
    throw new ApiError(
      413,
      "image_too_large",
      `${param}: ${value.name || "the image"} is ${value.size} bytes; at most ${MAX_IMAGE_BYTES} (16 MiB).`,
      {
        param,
      },
    );
  }
  const bytes = new Uint8Array(await value.arrayBuffer());
  const type = sniff(bytes);
  if (!type || !TYPES.has(type)) {
    throw new ApiError(
      400,
      "invalid_image_format",
      `${param}: ${value.name || "the file"} is not a PNG, JPEG or WebP image (declared ${value.type || "no type"}).`,
      { param },
    );
  }
  return `data:${type};base64,${toBase64(bytes)}`;
}

export interface EditForm {
  fields: ImageEditFields;
  images: string[];
  mask?: string;
}

export async function readEditForm(c: Context<AppEnv>): Promise<EditForm> {
  const type = c.req.header("content-type") ?? "";
  if (!/^multipart\/form-data/i.test(type)) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      `Expected a multipart/form-data body (as the OpenAI SDK's images.edit sends), got ${type.slice(0, 60) || "none"}.`,
    );
  }
  const bytes = await readBodyBytes(c, MAX_FORM_BYTES);
  let form: FormData;
  try {
    form = await new Request("http://form/", {
      method: "POST",
      headers: { "content-type": type },
      body: bytes,
    }).formData();
  } catch {
    throw new ApiError(400, "invalid_multipart", "The multipart/form-data body could not be parsed.");
  }
  const fields: Record<string, string> = {};
  const files: Array<{ value: Entry; param: string }> = [];
  let mask: Entry | undefined;
  for (const [name, value] of form.entries()) {
    if (name === "image" || name === "image[]") files.push({ value, param: `image[${files.length}]` });
    else if (name === "mask") mask = value;
    else if (typeof value === "string") fields[name] = value;
    else throw new ApiError(400, "invalid_request", `${name}: a file came where text was expected.`, { param: name });
  }
  if (files.length > MAX_IMAGES) {
    throw new ApiError(400, "too_many_images", `image: at most ${MAX_IMAGES} images; ${files.length} came.`, {
      param: "image",
    });
  }
  return {
    fields: parseWith(ImageEditFields, fields),
    images: await Promise.all(files.map((f) => imageValue(f.value, f.param))),
    ...(mask !== undefined ? { mask: await imageValue(mask, "mask") } : {}),
  };
}
