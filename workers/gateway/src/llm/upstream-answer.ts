/** Reading a non-stream upstream answer: within the upstream's deadline, checked before it is served. */
import { isCompleteCompletion, readUsage, type TokenUsage } from "./completion.ts";
import { upstreamMessage } from "./scrub.ts";
import { type Dispatched, upstreamBroken, upstreamTimedOut } from "./upstream.ts";

export interface JsonAnswer {
  text: string;
  completion: Record<string, unknown>;
  usage: TokenUsage | null;
  complete: boolean;
}

/** Reads and checks a JSON answer. The deadline still runs: its abort signal also ends the body read. */
export async function readJsonAnswer(d: Dispatched): Promise<JsonAnswer> {
  let text: string;
  try {
    text = await d.response.text();
  } catch (err) {
    if (d.deadline.expired) throw upstreamTimedOut(d.upstream.name);
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "llm answer read failed",
        upstream: d.upstream.name,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      }),
    );
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
  if (!Array.isArray(record.choices)) throw upstreamBroken(d.upstream.name, "sent an answer without choices.");
  return { text, completion: record, usage: readUsage(record), complete: isCompleteCompletion(record) };
}
