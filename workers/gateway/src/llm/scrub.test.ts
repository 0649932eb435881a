import { describe, expect, it } from "vitest";
import { dropTracebacks, scrubInternals, upstreamMessage } from "./scrub.ts";

const PY_TRACE = [
  "Traceback (most recent call last):",
  '  File "/home/gpu/.venv/lib/python3.11/site-packages/vllm/entrypoints/openai/serving_chat.py", line 212, in create',
  "    raise ValueError(msg)",
  '  File "/opt/vllm/engine.py", line 9, in check',
  "    check(request)",
  "ValueError: max_tokens is too large: 100000 > 8192",
].join("\n");

const JS_TRACE = [
  "TypeError: Cannot read properties of undefined (reading 'length')",
  "    at tokenize (/srv/app/dist/tokenizer.js:41:17)",
  "    at async handler (file:///srv/app/dist/server.mjs:120:5)",
  "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
].join("\n");

describe("upstream error scrubbing", () => {
  it("replaces internal URLs, addresses and paths", () => {
    expect(scrubInternals("Connection to http://10.1.2.3:8000/v1/chat/completions failed")).toBe(
      "Connection to [url] failed",
    );
    expect(scrubInternals("proxy https://vllm.internal/v1?x=1 said no")).toBe("proxy [url] said no");
    expect(scrubInternals("dial tcp 10.1.2.3:8000: connect: connection refused")).toBe(
      "dial tcp [address]: connect: connection refused",
    );
    expect(scrubInternals("upstream [fd00::12]:8000 and 192.168.0.4 down")).toBe(
      "upstream [address] and [address] down",
    );
    expect(scrubInternals("no route to vllm-0.vllm.svc.cluster.local:8000 or localhost:11434")).toBe(
      "no route to [address] or [address]",
    );
    expect(scrubInternals("weights /home/alice/models/llama-3/model.safetensors not found")).toBe(
      "weights [path] not found",
    );
    expect(scrubInternals('open("~/cache/hub/x.bin") and ../etc/passwd failed')).toBe(
      'open("[path]") and [path] failed',
    );
    expect(scrubInternals("cannot read C:\\Users\\gpu\\models\\m.gguf: denied")).toBe("cannot read [path] denied");
  });

  it("leaves what the client needs: model names, numbers, field names", () => {
    for (const text of [
      "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (100 in the messages, 8900 in the completion).",
      "The model `meta-llama/Llama-3.1-8B-Instruct` does not exist.",
      "max_tokens must be at most 4096, got 100000",
      "temperature: Input should be less than or equal to 2 at 12:30",
      "vLLM 0.6.3 error: 1/2 of the batch failed",
    ]) {
      expect(scrubInternals(dropTracebacks(text))).toBe(text);
    }
  });

  it("drops Python and JavaScript tracebacks, keeping what went wrong", () => {
    expect(dropTracebacks(PY_TRACE)).toBe("ValueError: max_tokens is too large: 100000 > 8192");
    expect(dropTracebacks(JS_TRACE)).toBe("TypeError: Cannot read properties of undefined (reading 'length')");
    const flat = PY_TRACE.replace(/\n/g, " ");
    const message = upstreamMessage(JSON.stringify({ detail: flat }));
    expect(message).not.toMatch(/Traceback|File "|\.py|\/home|\/opt/);
    expect(message).toContain("ValueError: max_tokens is too large: 100000 > 8192");
  });

  it("scrubs the whole message from a JSON error body before shortening it", () => {
    const body = JSON.stringify({
      object: "error",
      message: `${PY_TRACE}\n(upstream http://10.1.2.3:8000/v1, key sk-abcdefabcdefabcdefabcdef)`,
      type: "BadRequestError",
      code: 400,
    });
    const message = upstreamMessage(body);
    expect(message).toBe("ValueError: max_tokens is too large: 100000 > 8192 (upstream [url] key [redacted])");
    // A secret or a path cut by the length limit must not leave its first half behind.
    const long = `${"x".repeat(490)} sk-live-0123456789abcdefghij /home/alice/secret/dir/file.txt`;
    const short = upstreamMessage(long);
    expect(short).not.toContain("sk-live");
    expect(short).not.toContain("/home");
  });
});
