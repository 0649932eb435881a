/** Response shapes of the LLM routes, for /openapi.json (answers are the upstream's, passed through). */
import { z } from "zod";

const Usage = z.looseObject({
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  total_tokens: z.number(),
});

export const ChatCompletion = z
  .looseObject({
    id: z.string(),
    object: z.literal("chat.completion"),
    created: z.number(),
    model: z.string(),
    choices: z.array(
      z.looseObject({
        index: z.number(),
        message: z.looseObject({
          role: z.string(),
          content: z.string().nullable(),
          tool_calls: z
            .array(z.looseObject({ id: z.string(), type: z.string(), function: z.looseObject({}) }))
            .optional(),
        }),
        finish_reason: z.string().nullable(),
      }),
    ),
    usage: Usage.nullable().optional(),
  })
  .meta({
    id: "ChatCompletion",
    description:
      "The upstream's answer in OpenAI's format. With `stream: true` the answer is `text/event-stream` " +
      'of `chat.completion.chunk` events ending with `data: [DONE]`, or with a `data: {"error": {...}}` event ' +
      "when the upstream fails mid-stream.",
  });

export const ModelList = z
  .object({
    object: z.literal("list"),
    data: z.array(
      z.object({
        id: z.string(),
        object: z.literal("model"),
        created: z.number(),
        owned_by: z.string().describe("Name of the upstream serving the model"),
      }),
    ),
  })
  .meta({ id: "ModelList" });

export const UsageCounts = z
  .object({
    requests: z.number().describe("Authenticated requests (all APIs)"),
    rate_limited: z.number(),
    llm_requests: z.number().describe("Answered LLM requests (chat completions, completions, embeddings)"),
    prompt_tokens: z.number(),
    completion_tokens: z.number(),
    total_tokens: z.number(),
    cache_hits: z.number(),
    tokens_saved: z.number().describe("Prompt + completion tokens of the answers served from the cache"),
  })
  .meta({ id: "UsageCounts" });

export const UsageQuery = z
  .object({
    from: z.iso.date().optional().describe("First UTC day (YYYY-MM-DD); default 30 days before `to`"),
    to: z.iso.date().optional().describe("Last UTC day (YYYY-MM-DD), inclusive; default today"),
  })
  .strict();

export const UsageReport = z
  .object({
    object: z.literal("usage"),
    from: z.string(),
    to: z.string(),
    key: z.object({
      key_id: z.string(),
      totals: UsageCounts,
      days: z.array(UsageCounts.extend({ day: z.string() })),
    }),
    tenant: z.object({ tenant_id: z.string(), totals: UsageCounts }),
    jobs: z
      .object({
        key: z.object({ finished: z.int(), succeeded: z.int(), gpu_ms: z.number() }),
        tenant: z.object({ finished: z.int(), succeeded: z.int(), gpu_ms: z.number() }),
      })
      .describe("Jobs finished in the period and their GPU time (run_ms of the final attempt)"),
  })
  .meta({ id: "UsageReport" });
