/** How an error thrown while running a job becomes its `failed` event (pure). */
import type { JobError } from "@comfy-edge/shared/contract/jobs";
import { ComfyProtocolError, ComfyUnavailableError, type PostPromptResult } from "./comfy/client.ts";
import { promptRejectionError } from "./comfy/errors.ts";
import { PromptLostError } from "./comfy/watcher.ts";
import { WorkflowRewriteError } from "./comfy/workflow.ts";
import { ConversionError } from "./convert.ts";
import { GatewayError } from "./gateway.ts";
import { HttpError } from "./http.ts";
import { JobFailure } from "./job-failure.ts";
import { UploadError } from "./outputs.ts";

export interface KnownFailure {
  error: JobError;
  retryable: boolean;
  /** ComfyUI went away: the slot re-checks it before leasing again. */
  comfyDown?: boolean;
}

/** The job's error for a failure the runner knows; null for anything else (a bug: runner_error). */
export function failureOf(err: unknown): KnownFailure | null {
  if (err instanceof JobFailure) return { error: err.error, retryable: err.retryable };
  if (err instanceof WorkflowRewriteError) {
    return {
      error: { code: "workflow_invalid", message: err.message, node_id: err.nodeId, node_type: err.nodeType },
      retryable: false,
    };
  }
  if (err instanceof ComfyUnavailableError || err instanceof PromptLostError) {
    return {
      error: {
        code: "comfyui_unavailable",
        message: `ComfyUI became unavailable while running the job: ${err.message}`,
      },
      retryable: true,
      comfyDown: true,
    };
  }
  if (err instanceof ConversionError) {
    return {
      error: { code: "output_conversion_failed", message: err.message },
      retryable: /not installed/.test(err.message),
    };
  }
  if (
    err instanceof UploadError ||
    err instanceof GatewayError ||
    (err instanceof HttpError && err.kind !== "aborted")
  ) {
    return {
      error: { code: "output_upload_failed", message: `Uploading the outputs failed: ${(err as Error).message}` },
      retryable: true,
    };
  }
  if (err instanceof ComfyProtocolError)
    return { error: { code: "comfyui_error", message: err.message }, retryable: true };
  return null;
}

/** POST /prompt refused: 400 names the invalid nodes and inputs; anything else is ComfyUI's own trouble. */
export function rejectedPromptFailure(posted: Extract<PostPromptResult, { kind: "rejected" }>): KnownFailure {
  if (posted.status === 400) return { error: promptRejectionError(posted.body, 400), retryable: false };
  // Only the first line: a 500's body may be a Python traceback (the whole body goes to the runner's log).
  const first = posted.text.trim().split("\n")[0]?.slice(0, 300) ?? "";
  return {
    error: { code: "comfyui_error", message: `ComfyUI answered POST /prompt with HTTP ${posted.status}: ${first}` },
    retryable: posted.status >= 500,
  };
}

/** ComfyUI stopped the prompt, not at this job's request (its UI, another client's global interrupt). */
export function interruptedFailure(nodeId: string | null): KnownFailure {
  return {
    error: {
      code: "interrupted",
      message: `ComfyUI interrupted the prompt${nodeId ? ` at node ${nodeId}` : ""} (not at this job's request).`,
      ...(nodeId ? { node_id: nodeId } : {}),
    },
    retryable: true,
  };
}

export const OUTPUT_LOST: KnownFailure = {
  error: {
    code: "output_lost",
    message: "The websocket to ComfyUI dropped while it sent websocket-only outputs (SaveImageWebsocket).",
  },
  retryable: true,
};
