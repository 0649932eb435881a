/**
 * Streams an upstream SSE answer to the client event by event, with backpressure (a pull source: the
 * upstream is read only when the client is ready for more), while watching the events for usage and,
 * when the answer may be cached, rebuilding the completion. Nothing is buffered beyond one partial event.
 *
 * The stream always ends cleanly: a read error, an idle timeout or an early end after the first byte
 * becomes a final `data: {"error": {...}}` event (OpenAI style) instead of a hang or a cut connection.
 * An upstream error event is re-issued in the gateway's envelope with its message scrubbed.
 */
import type { ApiError } from "../../../shared/errors.ts";
import { CompletionAssembler, readUsage, type TokenUsage } from "./completion.ts";
import { upstreamMessage } from "./scrub.ts";
import { eventData, SSE_DONE, SseSplitter, sseEvent } from "./sse.ts";
import { upstreamBroken, upstreamTimedOut } from "./upstream.ts";

export interface RelayOptions {
  upstream: string;
  requestId: string;
  /** The client asked for `stream_options.include_usage` (else the usage-only chunk is dropped). */
  includeUsage: boolean;
  /** Rebuild the completion (the answer may be cached). */
  capture: boolean;
  /** Longest wait for the next upstream bytes. */
  idleTimeoutMs: number;
  secrets: readonly string[];
}

export interface RelayOutcome {
  /** The answer arrived whole ([DONE], or every choice finished) and without an error. */
  complete: boolean;
  /** The rebuilt completion (capture and complete only). */
  completion: Record<string, unknown> | null;
  usage: TokenUsage | null;
  /** Why the stream ended early, if it did. */
  failure: ApiError | null;
  /** The client went away before the end. */
  canceled: boolean;
}

type Json = Record<string, unknown>;

const IDLE = Symbol("idle");

export function errorEvent(error: ApiError, requestId: string): string {
  return sseEvent(
    JSON.stringify({
      error: {
        type: error.type,
        code: error.code,
        message: error.message,
        param: error.param,
        request_id: requestId,
        ...error.details,
      },
    }),
  );
}

export function relayStream(
  body: ReadableStream<Uint8Array>,
  options: RelayOptions,
): { stream: ReadableStream<Uint8Array>; done: Promise<RelayOutcome> } {
  const reader = body.getReader();
  const splitter = new SseSplitter();
  const encoder = new TextEncoder();
  const assembler = options.capture ? new CompletionAssembler() : null;
  const started = new Set<number>();
  const finished = new Set<number>();
  let usage: TokenUsage | null = null;
  let sawDone = false;
  let failure: ApiError | null = null;
  let upstreamError = false;
  let settle: (outcome: RelayOutcome) => void = () => {};
  const done = new Promise<RelayOutcome>((resolve) => {
    settle = resolve;
  });

  function finish(canceled: boolean): void {
    const whole = failure === null && !upstreamError && !canceled;
    settle({
      complete: whole,
      completion: whole && assembler ? assembler.result() : null,
      usage,
      failure,
      canceled,
    });
  }

  /** Returns the text to pass on for one event block ("" to drop it). */
  function onBlock(block: string): string {
    const data = eventData(block);
    if (data === null) return `${block}\n\n`;
    if (data === "[DONE]") {
      sawDone = true;
      return SSE_DONE;
    }
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      upstreamError = true; // not cacheable; passed on as is
      return `${block}\n\n`;
    }
    if (typeof event !== "object" || event === null) return `${block}\n\n`;
    const chunk = event as Json;
    if (chunk.error !== undefined && chunk.error !== null) {
      upstreamError = true;
      const apiError = upstreamBroken(options.upstream, `failed mid-stream: ${upstreamMessage(data, options.secrets)}`);
      failure = apiError;
      return errorEvent(apiError, options.requestId);
    }
    usage = readUsage(chunk) ?? usage;
    assembler?.add(chunk);
    const choices = chunk.choices;
    if (Array.isArray(choices)) {
      if (choices.length === 0 && chunk.usage && !options.includeUsage) return "";
      for (const c of choices as Json[]) {
        const index = typeof c?.index === "number" ? c.index : 0;
        started.add(index);
        if (typeof c?.finish_reason === "string" && c.finish_reason !== "") finished.add(index);
      }
    }
    return `${block}\n\n`;
  }

  function allFinished(): boolean {
    if (started.size === 0) return false;
    for (const i of started) if (!finished.has(i)) return false;
    return true;
  }

  async function read(): Promise<ReadableStreamReadResult<Uint8Array> | typeof IDLE> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = new Promise<typeof IDLE>((resolve) => {
      timer = setTimeout(() => resolve(IDLE), options.idleTimeoutMs);
    });
    try {
      return await Promise.race([reader.read(), idle]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          let result: ReadableStreamReadResult<Uint8Array> | typeof IDLE;
          try {
            result = await read();
          } catch (err) {
            failure = upstreamBroken(options.upstream, "closed the connection mid-stream.");
            console.warn(
              JSON.stringify({
                level: "warn",
                msg: "llm stream read failed",
                request_id: options.requestId,
                upstream: options.upstream,
                error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
              }),
            );
            controller.enqueue(encoder.encode(errorEvent(failure, options.requestId)));
            controller.close();
            finish(false);
            return;
          }
          if (result === IDLE) {
            failure = upstreamTimedOut(options.upstream);
            reader.cancel("idle timeout").catch((err: unknown) => {
              console.warn(JSON.stringify({ level: "warn", msg: "llm stream cancel failed", error: String(err) }));
            });
            controller.enqueue(encoder.encode(errorEvent(failure, options.requestId)));
            controller.close();
            finish(false);
            return;
          }
          if (result.done) {
            let out = "";
            const tail = splitter.end();
            if (tail !== null) out += onBlock(tail);
            if (!sawDone && !upstreamError) {
              if (allFinished()) {
                out += SSE_DONE;
              } else {
                failure = upstreamBroken(options.upstream, "ended the stream before the answer was complete.");
                out += errorEvent(failure, options.requestId);
              }
            }
            if (out !== "") controller.enqueue(encoder.encode(out));
            controller.close();
            finish(false);
            return;
          }
          const blocks = splitter.push(result.value);
          if (blocks.length === 0) continue;
          let out = "";
          for (const block of blocks) {
            out += onBlock(block);
            if (sawDone) break;
          }
          if (sawDone) {
            // The answer is whole: end here (a client that leaves right after [DONE] must not spoil it).
            controller.enqueue(encoder.encode(out));
            controller.close();
            finish(false);
            reader.cancel().catch((err: unknown) => {
              console.warn(JSON.stringify({ level: "warn", msg: "llm stream cancel failed", error: String(err) }));
            });
            return;
          }
          if (out !== "") {
            controller.enqueue(encoder.encode(out));
            return;
          }
        }
      },
      async cancel(reason) {
        finish(true);
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, done };
}
