import { describe, expect, it } from "vitest";
import { CompletionAssembler, isCompleteCompletion, readUsage, replayAsSse } from "./completion.ts";
import { eventData, SseSplitter } from "./sse.ts";

const encoder = new TextEncoder();

function chunk(delta: Record<string, unknown>, finish: string | null = null, index = 0) {
  return {
    id: "chatcmpl-1",
    object: "chat.completion.chunk",
    created: 1,
    model: "m",
    system_fingerprint: "fp",
    choices: [{ index, delta, logprobs: null, finish_reason: finish }],
  };
}

/** Parses an SSE text into the JSON of its data events (stops at [DONE]). */
function events(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const block of text.split("\n\n")) {
    const data = eventData(block);
    if (data === null || data === "[DONE]") continue;
    out.push(JSON.parse(data) as Record<string, unknown>);
  }
  return out;
}

describe("SSE splitter", () => {
  it("yields whole events across arbitrary chunk boundaries, CRLF and multi-byte characters included", () => {
    const text = 'data: {"a":"é€"}\r\n\r\n: keep-alive\n\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n';
    const bytes = encoder.encode(text);
    for (const size of [1, 2, 3, 7, bytes.length]) {
      const splitter = new SseSplitter();
      const blocks: string[] = [];
      for (let i = 0; i < bytes.length; i += size) blocks.push(...splitter.push(bytes.slice(i, i + size)));
      expect(splitter.end()).toBeNull();
      expect(blocks.map(eventData)).toEqual(['{"a":"é€"}', null, "line1\nline2", "[DONE]"]);
    }
  });

  it("returns an unterminated last event at the end", () => {
    const splitter = new SseSplitter();
    expect(splitter.push(encoder.encode("data: 1\n\ndata: [DONE]\n"))).toEqual(["data: 1"]);
    expect(splitter.end()).toBe("data: [DONE]");
  });
});

describe("completions from streams and back", () => {
  it("rebuilds content, tool calls, finish reasons and usage from chunks", () => {
    const a = new CompletionAssembler();
    a.add(chunk({ role: "assistant", content: "" }));
    a.add(chunk({ role: "assistant", content: "Hel" }));
    a.add(chunk({ content: "lo" }));
    a.add(chunk({ role: "assistant", content: "" }, null, 1));
    a.add(
      chunk(
        { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "" } }] },
        null,
        1,
      ),
    );
    a.add(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"x":' } }] }, null, 1));
    a.add(chunk({ tool_calls: [{ index: 0, id: "call_1", function: { arguments: "1}" } }] }, null, 1));
    expect(a.finished).toBe(false);
    a.add(chunk({}, "stop"));
    a.add(chunk({}, "tool_calls", 1));
    a.add({
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      choices: [],
      usage: { prompt_tokens: 5, completion_tokens: 2 },
    });
    expect(a.finished).toBe(true);
    const done = a.result();
    expect(done).toEqual({
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1,
      model: "m",
      system_fingerprint: "fp",
      choices: [
        { index: 0, message: { role: "assistant", content: "Hello" }, logprobs: null, finish_reason: "stop" },
        {
          index: 1,
          message: {
            role: "assistant",
            content: "",
            tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: '{"x":1}' } }],
          },
          logprobs: null,
          finish_reason: "tool_calls",
        },
      ],
      usage: { prompt_tokens: 5, completion_tokens: 2 },
    });
    expect(isCompleteCompletion(done)).toBe(true);
    expect(readUsage(done)).toEqual({ promptTokens: 5, completionTokens: 2 });
  });

  it("replays a completion as chunks that rebuild the same completion", () => {
    const completion = {
      id: "chatcmpl-9",
      object: "chat.completion",
      created: 2,
      model: "m",
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }],
          },
          logprobs: null,
          finish_reason: "tool_calls",
        },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    };
    const sse = replayAsSse(completion, true);
    expect(sse.endsWith("data: [DONE]\n\n")).toBe(true);
    const a = new CompletionAssembler();
    for (const e of events(sse)) {
      expect(e.object).toBe("chat.completion.chunk");
      a.add(e);
    }
    expect(a.result()).toEqual(completion);
    expect(events(replayAsSse(completion, false)).some((e) => "usage" in e)).toBe(false);
  });

  it("tells complete answers from incomplete ones", () => {
    expect(isCompleteCompletion({ choices: [{ finish_reason: "length" }] })).toBe(true);
    expect(isCompleteCompletion({ choices: [{ finish_reason: null }] })).toBe(false);
    expect(isCompleteCompletion({ choices: [] })).toBe(false);
    expect(isCompleteCompletion({ error: {} })).toBe(false);
  });
});
