/**
 * `POST /v1/embeddings` and `POST /v1/completions` request validation: the fields the gateway relies on
 * (the model routes the request; sizes are bounded), loose elsewhere so server-specific fields reach the
 * upstream untouched. The client's own parsed object is what gets forwarded.
 */
import { z } from "zod";

const Tokens = z.array(z.int().min(0)).min(1).max(1_000_000);
const Texts = z.array(z.string()).min(1).max(2048);

export const EmbeddingRequest = z
  .looseObject({
    model: z.string().min(1).max(256),
    input: z.union([z.string().min(1), Texts, Tokens, z.array(Tokens).min(1).max(2048)]),
    encoding_format: z.enum(["float", "base64"]).nullish(),
    dimensions: z.int().min(1).max(65_536).nullish(),
    user: z.string().max(256).nullish(),
  })
  .meta({ id: "EmbeddingRequest" });
export type EmbeddingRequest = z.output<typeof EmbeddingRequest>;

export const CompletionRequest = z
  .looseObject({
    model: z.string().min(1).max(256),
    prompt: z.union([z.string(), Texts, Tokens, z.array(Tokens).min(1).max(2048)]),
    max_tokens: z.int().min(1).max(32_000).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    n: z.int().min(1).max(128).nullish(),
    stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
    seed: z.int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
    echo: z.boolean().nullish(),
    suffix: z.string().nullish(),
    user: z.string().max(256).nullish(),
  })
  .meta({ id: "CompletionRequest" });
export type CompletionRequest = z.output<typeof CompletionRequest>;

export const Embedding = z
  .looseObject({
    object: z.literal("list"),
    model: z.string(),
    data: z.array(
      z.looseObject({
        object: z.literal("embedding"),
        index: z.number(),
        embedding: z.union([z.array(z.number()), z.string()]).describe("Floats, or base64 of little-endian float32"),
      }),
    ),
    usage: z.looseObject({ prompt_tokens: z.number(), total_tokens: z.number() }).nullable().optional(),
  })
  .meta({ id: "EmbeddingList", description: "The upstream's answer in OpenAI's format." });

export const TextCompletion = z
  .looseObject({
    id: z.string(),
    object: z.literal("text_completion"),
    created: z.number(),
    model: z.string(),
    choices: z.array(z.looseObject({ index: z.number(), text: z.string(), finish_reason: z.string().nullable() })),
    usage: z
      .looseObject({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number() })
      .nullable()
      .optional(),
  })
  .meta({
    id: "TextCompletion",
    description:
      "The upstream's answer in OpenAI's format. With `stream: true`: `text/event-stream` of `text_completion` " +
      'chunks ending with `data: [DONE]`, or with a `data: {"error": {...}}` event when the upstream fails mid-stream.',
  });
