/**
 * Chat completion objects: rebuilding one from stream chunks (so a streamed answer can be cached and
 * served to non-stream requests), replaying one as a stream (a cache hit for a streaming request), and
 * reading token usage.
 */
import { SSE_DONE, sseEvent } from "./sse.ts";

type Json = Record<string, unknown>;

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.floor(value) : 0;
}

/** `usage` of a completion or chunk, or null when absent. */
export function readUsage(value: unknown): TokenUsage | null {
  if (!isRecord(value) || !isRecord(value.usage)) return null;
  return { promptTokens: count(value.usage.prompt_tokens), completionTokens: count(value.usage.completion_tokens) };
}

/** A complete answer: a JSON object whose choices all carry a finish_reason. */
export function isCompleteCompletion(value: unknown): value is Json & { choices: Json[] } {
  if (!isRecord(value) || !Array.isArray(value.choices) || value.choices.length === 0) return false;
  return value.choices.every((c) => isRecord(c) && typeof c.finish_reason === "string" && c.finish_reason !== "");
}

interface ChoiceState {
  index: number;
  message: Json;
  toolCalls: Json[];
  logprobs: unknown[] | null;
  finishReason: string | null;
}

function mergeToolCall(into: Json[], delta: Json): void {
  const index = typeof delta.index === "number" ? delta.index : into.length;
  let call = into[index];
  if (!call) {
    call = { id: "", type: "function", function: { name: "", arguments: "" } };
    into[index] = call;
  }
  for (const [k, v] of Object.entries(delta)) {
    if (k === "index") continue;
    if (k === "function" && isRecord(v)) {
      const fn = call.function as Json;
      for (const [fk, fv] of Object.entries(v)) {
        if (fk === "arguments" && typeof fv === "string") fn.arguments = String(fn.arguments ?? "") + fv;
        else if (fv !== null && fv !== undefined && fv !== "") fn[fk] = fv;
      }
    } else if (k === "id") {
      // Ids arrive whole (in the first delta of the call; some servers repeat them).
      if (typeof v === "string" && v !== "" && call.id === "") call.id = v;
    } else if (v !== null && v !== undefined) {
      call[k] = v;
    }
  }
}

/** Folds chat.completion.chunk objects into the chat.completion they stream. */
export class CompletionAssembler {
  private head: Json | null = null;
  private readonly choices = new Map<number, ChoiceState>();
  private usage: unknown = null;

  add(chunk: Json): void {
    if (this.head === null) {
      const { choices: _c, usage: _u, object: _o, ...head } = chunk;
      this.head = head;
    }
    if (isRecord(chunk.usage)) this.usage = chunk.usage;
    if (!Array.isArray(chunk.choices)) return;
    for (const raw of chunk.choices) {
      if (!isRecord(raw)) continue;
      const index = typeof raw.index === "number" ? raw.index : 0;
      let state = this.choices.get(index);
      if (!state) {
        state = { index, message: {}, toolCalls: [], logprobs: null, finishReason: null };
        this.choices.set(index, state);
      }
      if (isRecord(raw.delta)) {
        for (const [k, v] of Object.entries(raw.delta)) {
          if (k === "tool_calls" && Array.isArray(v)) {
            for (const d of v) if (isRecord(d)) mergeToolCall(state.toolCalls, d);
          } else if (k !== "role" && typeof v === "string" && typeof state.message[k] === "string") {
            state.message[k] = (state.message[k] as string) + v;
          } else if (v !== null && v !== undefined) {
            state.message[k] = v;
          } else if (!(k in state.message)) {
            state.message[k] = v ?? null;
          }
        }
      }
      if (isRecord(raw.logprobs) && Array.isArray(raw.logprobs.content)) {
        state.logprobs = [...(state.logprobs ?? []), ...raw.logprobs.content];
      }
      if (typeof raw.finish_reason === "string" && raw.finish_reason !== "") state.finishReason = raw.finish_reason;
    }
  }

  /** True when every choice seen has finished. */
  get finished(): boolean {
    if (this.choices.size === 0) return false;
    for (const c of this.choices.values()) if (c.finishReason === null) return false;
    return true;
  }

  result(): Json {
    const choices = [...this.choices.values()]
      .sort((a, b) => a.index - b.index)
      .map((c) => {
        const message: Json = { role: "assistant", content: null, ...c.message };
        if (c.toolCalls.length > 0) message.tool_calls = c.toolCalls.filter(Boolean);
        return {
          index: c.index,
          message,
          logprobs: c.logprobs === null ? null : { content: c.logprobs },
          finish_reason: c.finishReason,
        };
      });
    return { id: this.head?.id, object: "chat.completion", ...this.head, choices, usage: this.usage };
  }
}

/**
 * A completion as an SSE stream: per choice one chunk with the whole message, then one with its
 * finish_reason, then (if asked) a usage chunk, then [DONE].
 */
export function replayAsSse(completion: Json, includeUsage: boolean): string {
  const { choices, usage, object: _o, ...head } = completion;
  const base = { ...head, object: "chat.completion.chunk" };
  const parts: string[] = [];
  const list = Array.isArray(choices) ? choices.filter(isRecord) : [];
  for (const choice of list) {
    const index = typeof choice.index === "number" ? choice.index : 0;
    const message = isRecord(choice.message) ? choice.message : {};
    const delta: Json = {};
    for (const [k, v] of Object.entries(message)) {
      if (k === "tool_calls" && Array.isArray(v)) {
        delta.tool_calls = v.map((call, i) => (isRecord(call) ? { index: i, ...call } : call));
      } else if (v !== null && v !== undefined) {
        delta[k] = v;
      }
    }
    if (!("role" in delta)) delta.role = "assistant";
    const first = { ...base, choices: [{ index, delta, logprobs: choice.logprobs ?? null, finish_reason: null }] };
    parts.push(sseEvent(JSON.stringify(first)));
    const last = {
      ...base,
      choices: [{ index, delta: {}, logprobs: null, finish_reason: choice.finish_reason ?? "stop" }],
    };
    parts.push(sseEvent(JSON.stringify(last)));
  }
  if (includeUsage && isRecord(usage)) parts.push(sseEvent(JSON.stringify({ ...base, choices: [], usage })));
  parts.push(SSE_DONE);
  return parts.join("");
}
