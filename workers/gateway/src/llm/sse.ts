/**
 * Server-sent events, just enough for OpenAI-style streams: an incremental splitter that yields complete
 * event blocks (raw text, so they can be passed on unchanged) and the `data` of a block.
 */

export class SseSplitter {
  private buffer = "";
  private readonly decoder = new TextDecoder();
  /**
   * True when the last push held whole events only (nothing carried over before or after, no CR
   * rewritten): its bytes are exactly the blocks returned, so they can be passed on as they are.
   */
  aligned = false;

  /** Feeds bytes; returns the complete event blocks (without their blank-line terminator). */
  push(chunk: Uint8Array): string[] {
    const carried = this.buffer !== "";
    let text = this.decoder.decode(chunk, { stream: true });
    const hasCr = text.includes("\r");
    if (hasCr) text = text.replace(/\r\n?/g, "\n");
    const blocks = this.take(text);
    this.aligned = !carried && !hasCr && this.buffer === "" && blocks.length > 0;
    return blocks;
  }

  /** Ends the input; returns a last block that lacked its terminator (a truncated stream), if any. */
  end(): string | null {
    const rest = (this.buffer + this.decoder.decode()).trim();
    this.buffer = "";
    return rest === "" ? null : rest;
  }

  private take(text: string): string[] {
    const all = this.buffer === "" ? text : this.buffer + text;
    const cut = all.lastIndexOf("\n\n");
    if (cut < 0) {
      this.buffer = all;
      return [];
    }
    this.buffer = all.slice(cut + 2);
    const blocks = all.slice(0, cut).split("\n\n");
    return blocks.filter((b) => b !== "" && b !== "\n");
  }
}

/** The `data` of an event block (multi-line data joined with \n), or null for blocks without data. */
export function eventData(block: string): string | null {
  let data: string | null = null;
  let start = 0;
  while (start <= block.length) {
    let end = block.indexOf("\n", start);
    if (end < 0) end = block.length;
    if (block.startsWith("data:", start)) {
      const from = block.charCodeAt(start + 5) === 32 ? start + 6 : start + 5;
      const line = block.slice(from, end);
      data = data === null ? line : `${data}\n${line}`;
    }
    start = end + 1;
  }
  return data;
}

export function sseEvent(data: string): string {
  return `data: ${data}\n\n`;
}

export const SSE_DONE = "data: [DONE]\n\n";
