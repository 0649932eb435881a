/**
 * ComfyUI's refusals and failures turned into the job's error (pure). Shapes as recorded in
 * 04_validation_errors.json (400 from POST /prompt, or 200 with node_errors) and 05_execution_error.json.
 */

import type { JsonObject } from "@comfy-edge/shared/contract/common";
import type { JobError } from "@comfy-edge/shared/contract/jobs";
import { z } from "zod";

export const NodeErrorEntry = z.looseObject({
  type: z.string().nullish(),
  message: z.string().nullish(),
  details: z.unknown().optional(),
  extra_info: z
    .looseObject({
      input_name: z.string().nullish(),
      received_value: z.unknown().optional(),
      linked_node: z.unknown().optional(),
    })
    .nullish(),
});

export const NodeErrors = z.record(
  z.string(),
  z.looseObject({
    errors: z.array(NodeErrorEntry).default([]),
    dependent_outputs: z.array(z.unknown()).optional(),
    class_type: z.string().nullish(),
  }),
);
export type NodeErrors = z.infer<typeof NodeErrors>;

export const PromptRejection = z.looseObject({
  error: z
    .union([
      z.looseObject({
        type: z.string().nullish(),
        message: z.string().nullish(),
        details: z.unknown().optional(),
      }),
      z.string(),
    ])
    .optional(),
  node_errors: NodeErrors.optional(),
});
export type PromptRejection = z.infer<typeof PromptRejection>;

const MAX_MESSAGE = 2000;

function clip(text: string, max = MAX_MESSAGE): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function describeValue(value: unknown): string {
  if (value === undefined) return "";
  const text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return clip(text, 80);
}

/** "node 1 (EmptyImage) input 'width': Value 0 smaller than min of 1" for each error, most useful first. */
export function describeNodeErrors(nodeErrors: NodeErrors): string[] {
  const lines: string[] = [];
  for (const [nodeId, entry] of Object.entries(nodeErrors)) {
    const who = `node ${nodeId}${entry.class_type ? ` (${entry.class_type})` : ""}`;
    if (entry.errors.length === 0) lines.push(`${who}: invalid`);
    for (const err of entry.errors) {
      const input = err.extra_info?.input_name;
      let text = err.message ?? err.type ?? "invalid";
      const details = typeof err.details === "string" ? err.details.trim() : "";
      // Prefer ComfyUI's details when they say more than the generic message ("image - Invalid image file: x").
      if (details && details !== input && !text.includes(details)) text = `${text}: ${details}`;
      const received = err.extra_info && "received_value" in err.extra_info ? err.extra_info.received_value : undefined;
      if (received !== undefined && !text.includes(String(received))) text += ` (got ${describeValue(received)})`;
      lines.push(`${who}${input ? ` input '${input}'` : ""}: ${text}`);
    }
  }
  return lines;
}

/** Node errors without tracebacks (kept small for the job record). */
function compactNodeErrors(nodeErrors: NodeErrors): JsonObject {
  const out: JsonObject = {};
  for (const [nodeId, entry] of Object.entries(nodeErrors)) {
    out[nodeId] = {
      class_type: entry.class_type ?? null,
      errors: entry.errors.map((e) => ({
        type: e.type ?? null,
        message: e.message ?? null,
        details: typeof e.details === "string" ? clip(e.details, 500) : null,
        input_name: e.extra_info?.input_name ?? null,
      })),
    };
  }
  return out;
}

/** A 400 from POST /prompt (or any body carrying `error` + `node_errors`) -> the job's error. */
export function promptRejectionError(body: unknown, status: number): JobError {
  const parsed = PromptRejection.safeParse(body);
  if (!parsed.success) {
    return {
      code: "workflow_invalid",
      message: `ComfyUI refused the workflow (HTTP ${status}).`,
    };
  }
  const { error, node_errors: nodeErrors = {} } = parsed.data;
  const top = typeof error === "string" ? { type: null, message: error, details: undefined } : (error ?? null);
  const lines = describeNodeErrors(nodeErrors);
  const topDetails = typeof top?.details === "string" ? top.details.trim() : "";
  let message: string;
  if (lines.length > 0) {
    message = `ComfyUI refused the workflow: ${lines.join("; ")}`;
  } else {
    const base = top?.message ?? top?.type ?? `HTTP ${status}`;
    message = `ComfyUI refused the workflow: ${base}${topDetails && !base.includes(topDetails) ? ` (${topDetails})` : ""}`;
  }
  const firstNode = Object.keys(nodeErrors)[0];
  // "Cannot execute because node X does not exist." names the node in details: "Node ID '#2'".
  const fromDetails = /Node ID '#([^']+)'/.exec(topDetails)?.[1];
  const nodeId = firstNode ?? fromDetails;
  const nodeType = firstNode ? (nodeErrors[firstNode]?.class_type ?? undefined) : undefined;
  const result: JobError = {
    code: "workflow_invalid",
    message: clip(message),
    details: {
      comfyui_error: top ? { type: top.type ?? null, message: top.message ?? null, details: topDetails || null } : null,
      node_errors: compactNodeErrors(nodeErrors),
    },
  };
  if (nodeId !== undefined) result.node_id = nodeId;
  if (nodeType) result.node_type = nodeType;
  return result;
}

/** A 200 from POST /prompt whose node_errors is not empty: ComfyUI would run only some outputs. */
export function partialPromptError(nodeErrors: NodeErrors): JobError {
  const lines = describeNodeErrors(nodeErrors);
  const firstNode = Object.keys(nodeErrors)[0];
  const result: JobError = {
    code: "workflow_invalid",
    message: clip(
      `ComfyUI would run only part of the workflow, so it was not run: ${lines.join("; ") || `nodes ${Object.keys(nodeErrors).join(", ")} are invalid`}`,
    ),
    details: { node_errors: compactNodeErrors(nodeErrors) },
  };
  if (firstNode !== undefined) {
    result.node_id = firstNode;
    const type = nodeErrors[firstNode]?.class_type;
    if (type) result.node_type = type;
  }
  return result;
}

export interface ExecutionErrorData {
  node_id?: string | null;
  node_type?: string | null;
  exception_message?: string | null;
  exception_type?: string | null;
  traceback?: string[] | null;
  executed?: string[];
}

/**
 * `execution_error` (websocket or /history messages) -> the job's error, whether another try may help, and
 * ComfyUI's traceback (for the runner's log only: it holds the GPU host's paths).
 */
export function executionError(data: ExecutionErrorData): { error: JobError; retryable: boolean; traceback: string[] } {
  const exceptionType = data.exception_type ?? "Exception";
  const exceptionMessage = (data.exception_message ?? "").trim() || "no message";
  const where = data.node_id ? `Node ${data.node_id}${data.node_type ? ` (${data.node_type})` : ""}` : "The workflow";
  const error: JobError = {
    code: "execution_error",
    message: clip(`${where} failed: ${exceptionType}: ${exceptionMessage}`),
    details: {
      exception_type: exceptionType,
      exception_message: clip(exceptionMessage, 4000),
      executed: data.executed ?? [],
    },
  };
  if (data.node_id) error.node_id = data.node_id;
  if (data.node_type) error.node_type = data.node_type;
  // Out of memory depends on the host and what else ran: another runner (or a later try) may succeed.
  const retryable = /out ?of ?memory|OutOfMemoryError|CUDA error/i.test(`${exceptionType} ${exceptionMessage}`);
  return { error, retryable, traceback: (data.traceback ?? []).slice(-8).map((line) => clip(line, 500)) };
}
