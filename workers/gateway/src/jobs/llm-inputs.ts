/**
 * Raw jobs' inputs given as `{"llm": {"model", "instruction" | "messages", "image"?}}` at
 * `workflow.<node>.inputs.<name>` (docs/images.md "Chains"): before the job is queued each runs as a chat
 * completion through the gateway's own chat route (the caller's key and its `llm` scope, the answer cache,
 * usage), its answer becomes the input's value, and the job records one `llm` step (and SSE event) each.
 */

import type { JobStep, Workflow } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import type { Context, Hono } from "hono";
import { runChat } from "../images/enhance.ts";
import { LlmInput, llmMessages } from "../images/llm-inputs.ts";
import { parseWith } from "../lib/body.ts";
import type { AppEnv } from "../types.ts";
import { validateWorkflow } from "./validate.ts";

export const MAX_LLM_INPUTS = 4;

function isLlm(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) && "llm" in value;
}

/** Where a workflow has `{llm}` values, in node order (pure). */
export function llmInputPlaces(workflow: Workflow): Array<{ nodeId: string; input: string; param: string }> {
  const out: Array<{ nodeId: string; input: string; param: string }> = [];
  for (const [nodeId, node] of Object.entries(workflow)) {
    for (const [input, value] of Object.entries(node.inputs)) {
      if (isLlm(value)) out.push({ nodeId, input, param: `workflow.${nodeId}.inputs.${input}` });
    }
  }
  return out;
}

/** The workflow with every `{llm}` value replaced by its answer, and the steps (none: the same workflow). */
export async function resolveWorkflowLlmInputs(
  c: Context<AppEnv>,
  chat: Hono<AppEnv>,
  workflow: Workflow,
): Promise<{ workflow: Workflow; steps: JobStep[] }> {
  const places = llmInputPlaces(workflow);
  if (places.length === 0) return { workflow, steps: [] };
  validateWorkflow(workflow);
  if (places.length > MAX_LLM_INPUTS) {
    const extra = places[MAX_LLM_INPUTS]!;
    throw new ApiError(
      400,
      "too_many_llm_inputs",
      `${extra.param}: at most ${MAX_LLM_INPUTS} inputs of a job may be written by an LLM; this workflow has ${places.length}.`,
      { param: extra.param },
    );
  }
  // Every value is checked before any LLM runs.
  const specs = places.map((p) => parseWith(LlmInput, workflow[p.nodeId]!.inputs[p.input], p.param).llm);
  const answers = await Promise.all(
    specs.map((llm, i) => runChat(c, chat, llm.model, llmMessages(llm), `${places[i]!.param}.llm`)),
  );
  const out: Workflow = structuredClone(workflow);
  places.forEach((p, i) => {
    out[p.nodeId]!.inputs[p.input] = answers[i]!.text;
  });
  return { workflow: out, steps: answers.map((a) => a.step) };
}
