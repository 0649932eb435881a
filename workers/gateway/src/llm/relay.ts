/**
 * Streams an upstream SSE answer to the client event by event, with backpressure (each write completes
 * only once the client has read it, and the upstream is read only after that), while watching the events for usage and,
 * when the answer may be cached, rebuilding the completion. Nothing is buffered beyond one partial event;
 * chunks that hold whole events and need no change are passed on as the same bytes.
 *
 * The stream always ends cleanly: a read error, an idle upstream or an early end after the first byte
 * becomes a final `data: {"error": {...}}` event (OpenAI style) instead of a hang or a cut connection.
 * An upstream error event is re-issued in the gateway's envelope with its message scrubbed.
 */
import type { ApiError } from "@comfy-edge/shared/errors";
import { log } from "@comfy-edge/shared/log";
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
  /** Longest wait for the next upstream bytes while the client is waiting for them. */
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

function warn(msg: string, fields: { request_id: string } & Record<string, unknown>): void {
  const { request_id, ...rest } = fields;
  log("warn", { request_id }, msg, rest);
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

  // One idle watchdog for the whole stream (not a timer per read): it fires only when a read has been
  // waiting for idleTimeoutMs, then cancels the upstream, which ends the pending read.
  let waitingSince: number | null = null;
  let idleFired = false;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const arm = (ms: number) => {
    watchdog = setTimeout(check, ms);
  };
  function check(): void {
    const waited = waitingSince === null ? 0 : Date.now() - waitingSince;
    if (waited < options.idleTimeoutMs) {
      arm(options.idleTimeoutMs - waited);
      return;
    }
    watchdog = undefined;
    idleFired = true;
    reader.cancel("idle timeout").catch((err: unknown) => {
      warn("llm stream cancel failed", { request_id: options.requestId, error: String(err) });
    });
  }
  arm(options.idleTimeoutMs);

  function finish(canceled: boolean): void {
    if (watchdog !== undefined) clearTimeout(watchdog);
    watchdog = undefined;
    const whole = failure === null && !upstreamError && !canceled;
    settle({ complete: whole, completion: whole && assembler ? assembler.result() : null, usage, failure, canceled });
  }

  /** What to pass on for one event block: null = the block unchanged, "" = drop it, else a replacement. */
  function onBlock(block: string): string | null {
    const data = eventData(block);
    if (data === null) return null;
    if (data === "[DONE]") {
      sawDone = true;
      return null;
    }
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      upstreamError = true; // not cacheable; passed on as is
      return null;
    }
    if (typeof event !== "object" || event === null) return null;
    const chunk = event as Json;
    if (chunk.error !== undefined && chunk.error !== null) {
      upstreamError = true;
      failure = upstreamBroken(options.upstream, `failed mid-stream: ${upstreamMessage(data, options.secrets)}`);
      return errorEvent(failure, options.requestId);
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
    return null;
  }

  function allFinished(): boolean {
    if (started.size === 0) return false;
    for (const i of started) if (!finished.has(i)) return false;
    return true;
  }

  /** What to pass on for a chunk's events: the same bytes when nothing changed, null when nothing is left. */
  function forward(chunk: Uint8Array, blocks: string[]): Uint8Array | null {
    const aligned = splitter.aligned;
    let out = "";
    let changed = false;
    for (const block of blocks) {
      if (sawDone) {
        changed = true; // anything after [DONE] is dropped
        break;
      }
      const replacement = onBlock(block);
      if (replacement === null) out += block === "data: [DONE]" ? SSE_DONE : `${block}\n\n`;
      else {
        out += replacement;
        changed = true;
      }
    }
    if (aligned && !changed) return chunk;
    return out === "" ? null : encoder.encode(out);
  }

  /** Reads the upstream and writes the client's side; each write waits for the client to take it. */
  async function pump(writer: WritableStreamDefaultWriter<Uint8Array>): Promise<void> {
    const close = async (tail: string) => {
      if (tail !== "") await writer.write(encoder.encode(tail));
      await writer.close();
      finish(false);
    };
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      waitingSince = Date.now();
      try {
        result = await reader.read();
      } catch (err) {
        if (!idleFired) {
          warn("llm stream read failed", {
            request_id: options.requestId,
            upstream: options.upstream,
            error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
          });
        }
        failure = idleFired
          ? upstreamTimedOut(options.upstream)
          : upstreamBroken(options.upstream, "closed the connection mid-stream.");
        await close(errorEvent(failure, options.requestId));
        return;
      } finally {
        waitingSince = null;
      }
      if (idleFired) {
        failure = upstreamTimedOut(options.upstream);
        await close(errorEvent(failure, options.requestId));
        return;
      }
      if (result.done) {
        let tail = "";
        const last = splitter.end();
        if (last !== null && !sawDone) tail += onBlock(last) ?? `${last}\n\n`;
        if (!sawDone && !upstreamError) {
          if (allFinished()) {
            tail += SSE_DONE;
          } else {
            failure = upstreamBroken(options.upstream, "ended the stream before the answer was complete.");
            tail += errorEvent(failure, options.requestId);
          }
        }
        await close(tail);
        return;
      }
      const blocks = splitter.push(result.value);
      const out = blocks.length > 0 ? forward(result.value, blocks) : null;
      if (out !== null) await writer.write(out);
      if (sawDone) {
        // The answer is whole: end here (a client that leaves right after [DONE] must not spoil it).
        reader.cancel().catch((err: unknown) => {
          warn("llm stream cancel failed", { request_id: options.requestId, error: String(err) });
        });
        await close("");
        return;
      }
    }
  }

  // workerd's IdentityTransformStream: a native byte stream whose writes complete only once the client
  // has read them, so the upstream is read no faster than the client takes the answer.
  const { readable, writable } = new IdentityTransformStream();
  const writer = writable.getWriter();
  pump(writer).catch((err: unknown) => {
    // A write failed: the client went away (its side was canceled). Stop reading the upstream.
    finish(true);
    reader.cancel(err).catch((cancelErr: unknown) => {
      warn("llm stream cancel failed", { request_id: options.requestId, error: String(cancelErr) });
    });
  });
  return { stream: readable, done };
}
