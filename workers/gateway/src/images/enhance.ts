/**
 * `prompt_enhance` (docs/images.md): before the image job is queued, a chat completion through the
 * gateway's own chat route (the caller's key and its `llm` scope, the answer cache, usage recording, the
 * upstream failover) writes the prompt; its answer is the `revised_prompt` and a step on the job.
 */

import type { JobStep } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { renderError } from "../errors.ts";
import { requestId } from "../middleware/request-id.ts";
import { chatRoutes } from "../routes/chat.ts";
import type { AppEnv } from "../types.ts";

export const PromptEnhance = z
  .object({
    model: z.string().min(1).max(200).describe("An LLM model of GET /v1/models"),
    instruction: z.string().min(1).max(8000).optional().describe("System message (default: write one image prompt)"),
  })
  .strict()
  .describe("Extension: an LLM rewrites the prompt first (needs the key's llm scope)");
export type PromptEnhance = z.infer<typeof PromptEnhance>;

export const DEFAULT_INSTRUCTION =
  "Rewrite the user's request as one detailed prompt for a text-to-image model. Answer with the prompt only.";

/** The chat route as an app of its own, answering in the public error envelope. */
export function chatApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", requestId());
  app.route("/", chatRoutes());
  app.onError(renderError);
  return app;
}

const Answer = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable().optional() }) })).min(1),
  usage: z.object({ prompt_tokens: z.int(), completion_tokens: z.int(), total_tokens: z.int() }).nullish(),
});
const Envelope = z.object({ error: z.object({ code: z.string(), message: z.string(), param: z.string().nullish() }) });

export function enhancePrompt(
  c: Context<AppEnv>,
  chat: Hono<AppEnv>,
  spec: PromptEnhance,
  prompt: string,
): Promise<{ text: string; step: JobStep }> {
  const messages = [
    { role: "system", content: spec.instruction ?? DEFAULT_INSTRUCTION },
    { role: "user", content: prompt },
  ];
  return runChat(c, chat, spec.model, messages, "prompt_enhance");
}

/**
 * A chat completion through the chat route (temperature 0, so the cache answers a repeat); its text and
 * the step that records it. Errors keep the route's status and code; `param` names the caller's field.
 */
export async function runChat(
  c: Context<AppEnv>,
  chat: Hono<AppEnv>,
  model: string,
  messages: unknown[],
  param: string,
): Promise<{ text: string; step: JobStep }> {
  const request = new Request(new URL("/", c.req.url), {
    method: "POST",
    headers: {
      authorization: c.req.header("authorization") ?? "",
      "content-type": "application/json",
      "x-request-id": c.get("requestId"),
    },
    body: JSON.stringify({ model, temperature: 0, messages }),
  });
  const res = await chat.fetch(request, c.env, c.executionCtx);
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const e = Envelope.safeParse(body);
    throw new ApiError(
      res.status,
      e.success ? e.data.error.code : "llm_step_failed",
      `${param}: ${e.success ? e.data.error.message : `the LLM call answered ${res.status}`}`,
      { param: e.success && e.data.error.code === "model_not_found" ? `${param}.model` : param },
    );
  }
  const answer = Answer.safeParse(body);
  const text = answer.success ? answer.data.choices[0]!.message.content?.trim() : undefined;
  if (!answer.success || !text) {
    throw new ApiError(502, "llm_step_empty", `${param}: model '${model}' answered no text to use.`, { param });
  }
  const cache = res.headers.get("x-cache");
  return {
    text,
    step: {
      type: "llm",
      model,
      usage: answer.data.usage ?? null,
      cache: cache === "HIT" || cache === "MISS" ? cache : "BYPASS",
      output: text,
    },
  };
}
