/**
 * Server-sent events over fetch (EventSource cannot send an Authorization header), parsed by
 * eventsource-parser. Resumes after a dropped connection from the last event id.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { type Session, send } from "./api.ts";

/** Parses one SSE response body to its end (a POST stream such as a chat completion's). */
export async function readBody(res: Response, onEvent: (e: SseEvent) => void): Promise<void> {
  if (!res.body) return;
  const parser = createParser({ onEvent: (m) => onEvent({ id: m.id, event: m.event ?? "message", data: m.data }) });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    parser.feed(value);
  }
}

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * Reads `path` until the server ends the stream or `signal` aborts; calls onEvent per event. A dropped
 * connection is resumed (Last-Event-ID) up to 5 times in a row.
 */
export async function readEvents(
  s: Session,
  path: string,
  onEvent: (e: SseEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  let lastId: string | undefined;
  let failures = 0;
  const parser = createParser({
    onEvent(m: EventSourceMessage) {
      if (m.id) lastId = m.id;
      onEvent({ id: m.id, event: m.event ?? "message", data: m.data });
    },
  });
  for (;;) {
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (lastId) headers["last-event-id"] = lastId;
    try {
      const res = await send(s.token, path, { headers, signal });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        failures = 0;
        parser.feed(value);
      }
    } catch (err) {
      if (signal.aborted) return;
      failures += 1;
      if (failures > 5) throw err;
      parser.reset();
      await new Promise((r) => setTimeout(r, 500 * failures));
    }
  }
}
