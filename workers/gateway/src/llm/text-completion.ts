/** Legacy text completions (`POST /v1/completions`): replaying a JSON answer as a stream. */
import { SSE_DONE, sseEvent } from "./sse.ts";

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A `text_completion` as an SSE stream (for an upstream that ignored `stream: true`): per choice one
 * chunk with the whole text and its finish_reason, then (if asked) a usage chunk, then [DONE].
 */
export function replayTextAsSse(completion: Json, includeUsage: boolean): string {
  const { choices, usage, ...head } = completion;
  const parts: string[] = [];
  for (const choice of Array.isArray(choices) ? choices.filter(isRecord) : []) {
    parts.push(sseEvent(JSON.stringify({ ...head, choices: [choice] })));
  }
  if (includeUsage && isRecord(usage)) parts.push(sseEvent(JSON.stringify({ ...head, choices: [], usage })));
  parts.push(SSE_DONE);
  return parts.join("");
}
