/**
 * Template inputs given as `{"llm": {"model", "instruction" | "messages", "image"?}}` (docs/images.md
 * "Chains"): each is a chat completion through the gateway's own chat route, run before the job is queued;
 * its answer becomes the input's value and a step on the job. Raw jobs' inputs: jobs/llm-inputs.ts.
 */

import type { JobStep } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import type { Context, Hono } from "hono";
import { z } from "zod";
import { parseWith } from "../lib/body.ts";
import type { AppEnv } from "../types.ts";
import { runChat } from "./enhance.ts";

const MAX_LLM_INPUTS = 4;

export const LlmInput = z
  .object({
    llm: z
      .object({
        model: z.string().min(1).max(200),
        instruction: z.string().min(1).max(32_000).optional(),
        messages: z.array(z.record(z.string(), z.unknown())).min(1).max(50).optional(),
        image: z
          .string()
          .min(1)
          .max(16 * 1024 * 1024)
          .optional()
          .describe("An image for a vision model (https or data:image URL; the LLM proxy's URL guard applies)"),
      })
      .strict()
      .refine(
        (l) => (l.instruction === undefined) !== (l.messages === undefined),
        "give instruction or messages (one of them)",
      )
      .refine((l) => l.image === undefined || l.instruction !== undefined, {
        message: "image goes with instruction (with messages, put the image in a message)",
        path: ["image"],
      }),
  })
  .strict();
export type LlmInput = z.infer<typeof LlmInput>;

/** The chat messages of an `{llm}` value: its messages, or one user message (instruction, and the image). */
export function llmMessages(llm: LlmInput["llm"]): unknown[] {
  if (llm.messages) return llm.messages;
  if (llm.image === undefined) return [{ role: "user", content: llm.instruction }];
  const content = [
    { type: "text", text: llm.instruction },
    { type: "image_url", image_url: { url: llm.image } },
  ];
  return [{ role: "user", content }];
}

const isLlm = (v: unknown): boolean => typeof v === "object" && v !== null && !Array.isArray(v) && "llm" in v;

/** The inputs with every `{llm}` value replaced by its answer, and the steps that wrote them. */
export async function resolveLlmInputs(
  c: Context<AppEnv>,
  chat: Hono<AppEnv>,
  inputs: Record<string, unknown>,
): Promise<{ inputs: Record<string, unknown>; steps: JobStep[] }> {
  const out = { ...inputs };
  const steps: JobStep[] = [];
  const names = Object.keys(inputs).filter((k) => isLlm(inputs[k]));
  for (const name of names.slice(0, MAX_LLM_INPUTS + 1)) {
    const param = `inputs.${name}`;
    if (steps.length === MAX_LLM_INPUTS) {
      throw new ApiError(
        400,
        "too_many_llm_inputs",
        `${param}: at most ${MAX_LLM_INPUTS} inputs of a run may be written by an LLM.`,
        {
          param,
        },
      );
    }
    const { llm } = parseWith(LlmInput, inputs[name], param);
    const { text, step } = await runChat(c, chat, llm.model, llmMessages(llm), `${param}.llm`);
    out[name] = text;
    steps.push(step);
  }
  return { inputs: out, steps };
}
