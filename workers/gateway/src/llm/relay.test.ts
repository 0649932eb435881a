import { describe, expect, it } from "vitest";
import { type RelayOptions, relayStream } from "./relay.ts";

const encoder = new TextEncoder();
const options: RelayOptions = {
  upstream: "up",
  requestId: "req_1",
  includeUsage: false,
  capture: true,
  idleTimeoutMs: 200,
  secrets: ["sk-supersecretvalue"],
};

const c = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
const usage = `data: ${JSON.stringify({ id: "x", choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } })}\n\n`;

/** An upstream body from parts; `end`: close, error, or stay open. */
function upstream(parts: string[], end: "close" | "error" | "hang" = "close"): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < parts.length) {
        controller.enqueue(encoder.encode(parts[i++]!));
        return;
      }
      if (end === "close") controller.close();
      else if (end === "error") controller.error(new Error("connection reset"));
      else return new Promise(() => {});
    },
  });
}

describe("stream relay", () => {
  it("passes events through, drops the usage-only chunk the client did not ask for, rebuilds the answer", async () => {
    const whole = c("Hel") + c("lo") + c("", "stop") + usage + "data: [DONE]\n\n";
    // Split mid-event to check events are only forwarded whole.
    const relay = relayStream(upstream([whole.slice(0, 30), whole.slice(30, 200), whole.slice(200)]), options);
    const text = await new Response(relay.stream).text();
    expect(text).toBe(c("Hel") + c("lo") + c("", "stop") + "data: [DONE]\n\n");
    const outcome = await relay.done;
    expect(outcome).toMatchObject({ complete: true, usage: { promptTokens: 3, completionTokens: 2 }, failure: null });
    expect(outcome.completion).toMatchObject({ choices: [{ message: { content: "Hello" }, finish_reason: "stop" }] });

    const withUsage = relayStream(upstream([whole]), { ...options, includeUsage: true });
    expect(await new Response(withUsage.stream).text()).toBe(whole);
  });

  it("ends with an error event when the upstream connection fails mid-stream", async () => {
    const relay = relayStream(upstream([c("Hel")], "error"), options);
    const text = await new Response(relay.stream).text();
    expect(text.startsWith(c("Hel"))).toBe(true);
    expect(text).toMatch(/data: \{"error":\{"type":"upstream_error","code":"upstream_error".*"request_id":"req_1"/);
    expect(await relay.done).toMatchObject({ complete: false, completion: null });
  });

  it("ends with upstream_timeout when the upstream goes quiet", async () => {
    const relay = relayStream(upstream([c("Hel")], "hang"), options);
    const text = await new Response(relay.stream).text();
    expect(text).toContain('"code":"upstream_timeout"');
    expect((await relay.done).complete).toBe(false);
  });

  it("flags a stream that closes before the answer finished, and completes one without [DONE]", async () => {
    const cut = relayStream(upstream([c("Hel")]), options);
    expect(await new Response(cut.stream).text()).toContain("ended the stream before the answer was complete");
    expect((await cut.done).complete).toBe(false);

    const noDone = relayStream(upstream([c("Hel"), c("", "stop")]), options);
    expect(await new Response(noDone.stream).text()).toBe(c("Hel") + c("", "stop") + "data: [DONE]\n\n");
    expect((await noDone.done).complete).toBe(true);
  });

  it("re-issues an upstream error event scrubbed, and never marks it complete", async () => {
    const event = `data: ${JSON.stringify({ error: { message: "bad key sk-supersecretvalue" } })}\n\n`;
    const relay = relayStream(upstream([c("a"), event]), options);
    const text = await new Response(relay.stream).text();
    expect(text).not.toContain("sk-supersecretvalue");
    expect(text).toContain("[redacted]");
    expect((await relay.done).complete).toBe(false);
  });

  it("reads the upstream only as fast as the client, and cancels it when the client leaves", async () => {
    let pulls = 0;
    let canceled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        controller.enqueue(encoder.encode(c(`t${pulls}`)));
      },
      cancel() {
        canceled = true;
      },
    });
    const relay = relayStream(body, options);
    const reader = relay.stream.getReader();
    await reader.read();
    await reader.read();
    const before = pulls;
    // Nothing is read ahead while the client is not reading (the source may fill its own 1-chunk queue).
    expect(before).toBeLessThanOrEqual(3);
    await reader.cancel("client went away");
    expect(await relay.done).toMatchObject({ canceled: true, complete: false });
    expect(canceled).toBe(true);
    expect(pulls).toBe(before);
  });
});
