/** Reading a non-stream upstream answer: within the upstream's deadline, checked before it is served. */

import { log } from "@comfy-edge/shared/log";
import { isCompleteCompletion, readUsage, type TokenUsage } from "./completion.ts";
import { upstreamMessage } from "./scrub.ts";
import { type Dispatched, upstreamBroken, upstreamTimedOut } from "./upstream.ts";

export interface JsonAnswer {
  text: string;
  completion: Record<string, unknown>;
  usage: TokenUsage | null;
  complete: boolean;
}

/** What an answer carries: `choices` (chat, completions) or `data` (embeddings). */
export type AnswerShape = "choices" | "data";

/** An embeddings answer is whole when it has vectors (float arrays or base64 strings). */
function isCompleteEmbedding(record: Record<string, unknown>): boolean {
  const data = record.data;
  if (!Array.isArray(data) || data.length === 0) return false;
  return data.every((item) => {
    if (typeof item !== "object" || item === null) return false;
    const embedding = (item as Record<string, unknown>).embedding;
    return Array.isArray(embedding) || typeof embedding === "string";
  });
}

/** Reads and checks a JSON answer. The deadline still runs: its abort signal also ends the body read. */
export async function readJsonAnswer(d: Dispatched, shape: AnswerShape = "choices"): Promise<JsonAnswer> {
  let text: string;
  try {
    text = await d.response.text();
  } catch (err) {
    if (d.deadline.expired) throw upstreamTimedOut(d.upstream.name);
    log("warn", { request_id: d.requestId }, "llm answer read failed", {
      upstream: d.upstream.name,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
    throw upstreamBroken(d.upstream.name, "closed the connection while sending the answer.");
  } finally {
    d.deadline.clear();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw upstreamBroken(d.upstream.name, "sent an answer that is not JSON.");
  }
  const record = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  if (record.error !== undefined && record.error !== null) {
    throw upstreamBroken(d.upstream.name, `answered with an error: ${upstreamMessage(text, d.secrets)}`);
  }
  if (shape === "data") {
    if (!Array.isArray(record.data)) throw upstreamBroken(d.upstream.name, "sent an answer without data.");
    return { text, completion: record, usage: readUsage(record), complete: isCompleteEmbedding(record) };
  }
  if (!Array.isArray(record.choices)) throw upstreamBroken(d.upstream.name, "sent an answer without choices.");
  return { text, completion: record, usage: readUsage(record), complete: isCompleteCompletion(record) };
}
