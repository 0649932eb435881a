/**
 * A `file:<id>` input (uploaded through POST /v1/files) gets the checks a `data:` image gets, at submit
 * and before any job uses it: it exists, it is no larger than MAX_INPUT_BYTES, its first bytes are a
 * png/jpeg/webp/gif image, and the Content-Type it was uploaded with (if any) names that same type.
 * One ranged R2 read of the leading bytes.
 */
import { ApiError } from "@comfy-edge/shared/errors";
import {
  acceptedImageType,
  IMAGE_TYPES_TEXT,
  mimeEssence,
  sniffImageType,
} from "@comfy-edge/shared/url-guard/image-type";

/** Enough for every signature sniffImageType knows (webp: 12 bytes). */
const SNIFF_BYTES = 16;

export interface UploadedFileRef {
  nodeId: string;
  fileId: string;
  key: string;
  param: string;
}

/** The refusal for an uploaded file that is not what it must be, or null when it passes. */
export function uploadedFileProblem(
  size: number,
  declared: string | undefined,
  head: Uint8Array,
  maxBytes: number,
): string | null {
  if (size > maxBytes) return `is ${size} bytes, over the ${maxBytes}-byte limit for input images`;
  const sniffed = sniffImageType(head);
  if (sniffed === null) return `is not an image of type ${IMAGE_TYPES_TEXT} (its first bytes are no image signature)`;
  if (declared === undefined || declared === "") return null;
  const type = acceptedImageType(declared);
  if (type === null)
    return `was uploaded as ${mimeEssence(declared).slice(0, 100)}, not as an image (${IMAGE_TYPES_TEXT})`;
  if (type !== sniffed) return `was uploaded as ${type} but its bytes are ${sniffed}`;
  return null;
}

export async function checkUploadedFile(files: R2Bucket, ref: UploadedFileRef, maxBytes: number): Promise<void> {
  const object = await files.get(ref.key, { range: { offset: 0, length: SNIFF_BYTES } });
  if (!object) {
    throw new ApiError(
      422,
      "unknown_file",
      `Node ${ref.nodeId}: file ${ref.fileId} was not uploaded (or has expired). Upload it to the upload_url from POST /v1/files first.`,
      { param: ref.param },
    );
  }
  const head = new Uint8Array(await object.arrayBuffer());
  const problem = uploadedFileProblem(object.size, object.httpMetadata?.contentType, head, maxBytes);
  if (problem !== null) {
    throw new ApiError(422, "invalid_file", `Node ${ref.nodeId}: file ${ref.fileId} ${problem}.`, {
      param: ref.param,
    });
  }
}
