/**
 * Template inputs given as `{"llm": {"model", "instruction" | "messages"}}` (docs/images.md "Chains"):
 * each is a chat completion through the gateway's own chat route, run before the job is queued; its answer
 * becomes the input's value and a step on the job.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { JobStep } from "../../../shared/contract/index.ts";
import { ApiError } from "../../../shared/errors.ts";
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
      })
      .strict()
      .refine(
        (l) => (l.instruction === undefined) !== (l.messages === undefined),
        "give instruction or messages (one of them)",
      ),
  })
  .strict();

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
    const messages = llm.messages ?? [{ role: "user", content: llm.instruction }];
    const { text, step } = await runChat(c, chat, llm.model, messages, `${param}.llm`);
    out[name] = text;
    steps.push(step);
  }
  return { inputs: out, steps };
}
