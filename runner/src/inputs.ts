/**
 * A job's input images: each is downloaded from its presigned GET (the gateway's storage, never a client URL),
 * capped at MAX_INPUT_BYTES, and uploaded to ComfyUI's input folder into the run's own random subfolder, so
 * no other job can guess its name (and it can be removed afterwards).
 */
import type { LeaseGrant } from "@comfy-edge/shared/contract/runner";
import type { ComfyClient } from "./comfy/client.ts";
import { inputFileName, type UploadedInput } from "./comfy/workflow.ts";
import { HttpError, sendBytes } from "./http.ts";
import { JobFailure } from "./job-failure.ts";
import { type Logger, safeUrl } from "./log.ts";

export interface InputContext {
  comfy: ComfyClient;
  maxInputBytes: number;
  /** The run's subfolder of ComfyUI's input folder. */
  runFolder: string;
  log: Logger;
  signal: AbortSignal;
  /** Called with each file ComfyUI stored (so it can be removed at the end, even if the job fails later). */
  onUploaded: (nodeId: string, file: UploadedInput) => void;
}

/** Uploads every input of the lease to ComfyUI; answers what ComfyUI stored, by node id. */
export async function uploadInputs(
  inputs: LeaseGrant["inputs"],
  ctx: InputContext,
): Promise<Map<string, UploadedInput>> {
  const uploaded = new Map<string, UploadedInput>();
  await Promise.all(
    inputs.map(async (input) => {
      const { bytes, contentType } = await download(input.url, input.content_type, ctx);
      const name = inputFileName(`n${input.node_id}`, contentType);
      const answer = await ctx.comfy.uploadImage(bytes, name, contentType, ctx.signal, ctx.runFolder);
      uploaded.set(input.node_id, answer);
      ctx.onUploaded(input.node_id, answer);
      ctx.log.debug("input uploaded to comfyui", { node_id: input.node_id, name: answer.name, bytes: bytes.length });
    }),
  );
  return uploaded;
}

/** GET of a presigned input URL (operator-trusted storage), capped at MAX_INPUT_BYTES. */
async function download(
  url: string,
  declaredType: string | null,
  ctx: InputContext,
): Promise<{ bytes: Buffer; contentType: string }> {
  let res: Awaited<ReturnType<typeof sendBytes>>;
  try {
    res = await sendBytes({ method: "GET", url, signal: ctx.signal, timeoutMs: 120_000 }, ctx.maxInputBytes);
  } catch (err) {
    if (err instanceof HttpError && err.kind === "aborted") throw err;
    if (err instanceof HttpError && err.kind === "too_large") {
      throw new JobFailure(
        {
          code: "input_too_large",
          message: `An input image is larger than this runner's MAX_INPUT_BYTES (${ctx.maxInputBytes} bytes).`,
        },
        false,
      );
    }
    throw new JobFailure(
      {
        code: "input_unavailable",
        message: `Could not download an input from ${safeUrl(url)}: ${(err as Error).message}`,
      },
      true,
    );
  }
  if (res.status !== 200) {
    throw new JobFailure(
      { code: "input_unavailable", message: `Downloading an input from ${safeUrl(url)} answered HTTP ${res.status}.` },
      res.status >= 500 || res.status === 403 || res.status === 429,
    );
  }
  return { bytes: res.body, contentType: declaredType ?? res.headers["content-type"] ?? "image/png" };
}
