/**
 * `POST /v1/chat/completions` request validation: zod schemas for the parts the gateway relies on, loose
 * everywhere else so unknown fields (response_format, guided_json, ...) reach the upstream untouched.
 * The validated copy is only read; the client's own parsed object is what gets forwarded.
 */

import { ApiError } from "@comfy-edge/shared/errors";
import { assertSafeUrl, type UrlPolicy } from "@comfy-edge/shared/url-guard";
import { z } from "zod";
import { schemaError } from "../lib/body.ts";

const TextPart = z.looseObject({ type: z.literal("text"), text: z.string() });
const ImagePart = z.looseObject({
  type: z.literal("image_url"),
  image_url: z.looseObject({
    url: z.string().min(1).max(20_000_000),
    detail: z.enum(["auto", "low", "high"]).optional(),
  }),
});
const RefusalPart = z.looseObject({ type: z.literal("refusal"), refusal: z.string() });
const AudioPart = z.looseObject({
  type: z.literal("input_audio"),
  input_audio: z.looseObject({ data: z.string(), format: z.string() }),
});
/**
 * Only URL-free part types besides image_url: parts that make the LLM server fetch something
 * (vLLM's video_url/audio_url, ...) would bypass the URL guard, so they are refused.
 */
export const ContentPart = z.discriminatedUnion("type", [TextPart, ImagePart, RefusalPart, AudioPart]);

export const ChatMessage = z.looseObject({
  role: z.string().min(1).max(64),
  content: z.union([z.string(), z.array(ContentPart).max(10_000)]).nullish(),
});

const FunctionTool = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: z.string().min(1).max(256),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

export const ChatRequest = z
  .looseObject({
    model: z.string().min(1).max(256),
    messages: z.array(ChatMessage).min(1).max(10_000),
    max_tokens: z.int().min(1).max(32_000).nullish(),
    max_completion_tokens: z.int().min(1).max(32_000).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
    seed: z.int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).nullish(),
    n: z.int().min(1).max(128).nullish(),
    tools: z.array(FunctionTool).max(128).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
    user: z.string().max(256).nullish(),
  })
  .meta({ id: "ChatCompletionRequest" });
export type ChatRequest = z.output<typeof ChatRequest>;

function typeName(issue: z.core.$ZodIssue): string | null {
  return issue.code === "invalid_type" ? issue.expected : null;
}

/**
 * A union failure names the branch that got furthest (so a bad `image_url.url` is reported as such, not
 * as "content: invalid input"); when no branch got anywhere, it says which types were expected.
 */
function flattenUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== "invalid_union" || issue.errors.length === 0) return issue;
  let best: z.core.$ZodIssue | undefined;
  for (const branch of issue.errors) {
    const first = branch[0];
    if (first && (best === undefined || first.path.length > best.path.length)) best = first;
  }
  if (best && best.path.length > 0) {
    return flattenUnion({ ...best, path: [...issue.path, ...best.path] } as z.core.$ZodIssue);
  }
  const expected = issue.errors.map((b) => (b[0] ? typeName(b[0]) : null)).filter((t) => t !== null);
  return { ...issue, message: expected.length > 0 ? `expected ${expected.join(" or ")}` : issue.message };
}

/** The request (typed view) or a 400 `invalid_request` naming the first bad field. */
export function parseChatRequest(raw: unknown): ChatRequest {
  return parseLlmRequest(ChatRequest, raw);
}

/** Any LLM request body (typed view) or a 400 `invalid_request` naming the first bad field. */
export function parseLlmRequest<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ApiError(400, "invalid_request", "The request body must be a JSON object.");
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  const issue = first ? flattenUnion(first) : undefined;
  throw schemaError(issue ? new z.ZodError([issue]) : result.error, "", raw);
}

type Json = Record<string, unknown>;

/** `raw` with `messages[i].content[j].image_url.url` set to `url` (copies only the objects on the path). */
function withImageUrl(raw: Json, i: number, j: number, url: string): Json {
  const messages = [...(raw.messages as Json[])];
  const message = messages[i]!;
  const content = [...(message.content as Json[])];
  const part = content[j]!;
  content[j] = { ...part, image_url: { ...(part.image_url as Json), url } };
  messages[i] = { ...message, content };
  return { ...raw, messages };
}

/**
 * Runs every image_url through the URL guard before anything is forwarded (422 `unsafe_url` /
 * `url_not_allowed`, `param` = `messages[i].content[j].image_url.url`) and returns the body to forward:
 * the client's `raw` object (which `request` was parsed from) with each http(s) image URL replaced by its
 * canonical serialisation, so the LLM server's parser reads the host the guard checked. The policy is
 * built only when there is an image.
 */
export function guardImages(request: ChatRequest, raw: Json, policy: () => UrlPolicy): Json {
  let resolved: UrlPolicy | undefined;
  let body = raw;
  for (let i = 0; i < request.messages.length; i++) {
    const content = request.messages[i]!.content;
    if (!Array.isArray(content)) continue;
    for (let j = 0; j < content.length; j++) {
      const part = content[j]!;
      if (part.type !== "image_url") continue;
      resolved ??= policy();
      const checked = assertSafeUrl(part.image_url.url, resolved, `messages[${i}].content[${j}].image_url.url`);
      if (checked.kind !== "data" && checked.url.href !== part.image_url.url) {
        body = withImageUrl(body, i, j, checked.url.href);
      }
    }
  }
  return body;
}

/** An answer is deterministic for its request when sampling is greedy (temperature 0) or seeded. */
export function isDeterministic(request: ChatRequest): boolean {
  return request.temperature === 0 || (request.seed !== undefined && request.seed !== null);
}

/** What is sent upstream: the client's object, with usage requested on streams. */
export function upstreamBody(raw: Record<string, unknown>, stream: boolean): string {
  if (!stream) return JSON.stringify(raw);
  const options = raw.stream_options;
  const streamOptions = typeof options === "object" && options !== null ? options : {};
  return JSON.stringify({ ...raw, stream: true, stream_options: { ...streamOptions, include_usage: true } });
}
