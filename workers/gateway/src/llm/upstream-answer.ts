/** Reading a non-stream upstream answer: within the upstream's deadline, checked before it is served. */
import { isCompleteCompletion, readUsage, type TokenUsage } from "./completion.ts";
import { upstreamMessage } from "./scrub.ts";
import { type Deadline, type Dispatched, upstreamBroken, upstreamTimedOut } from "./upstream.ts";

function bodyWithin(response: Response, deadline: Deadline): Promise<string> {
  const signal = deadline.signal;
  return new Promise<string>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    response
      .text()
      .then(resolve, reject)
      .finally(() => signal.removeEventListener("abort", onAbort));
  });
}

export interface JsonAnswer {
  text: string;
  completion: Record<string, unknown>;
  usage: TokenUsage | null;
  complete: boolean;
}

/** Reads and checks a JSON answer (the deadline still covers the body). */
export async function readJsonAnswer(d: Dispatched): Promise<JsonAnswer> {
  let text: string;
  try {
    text = await bodyWithin(d.response, d.deadline);
  } catch {
    throw d.deadline.expired
      ? upstreamTimedOut(d.upstream.name)
      : upstreamBroken(d.upstream.name, "closed the connection while sending the answer.");
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
