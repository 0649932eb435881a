/** The LLM proxy's calls for responses.test.ts: chat (cache, stream, failover, refusals), embeddings, completions. */
type Call = (
  method: string,
  template: string,
  options: { token?: string; body?: unknown; raw?: BodyInit; headers?: Record<string, string> },
) => Promise<unknown>;

/** `llmKey`: a key with the llm scope; `otherKey`: a valid key whose last character is changed here. */
export async function exerciseLlmProxy(
  call: Call,
  llmKey: string,
  otherKey: string,
  paths: Record<string, unknown>,
): Promise<void> {
  const chat = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    call("POST", "/v1/chat/completions", { token: llmKey, body, headers });
  const messages = [{ role: "user", content: `contract ${Math.random()}` }];
  await chat({ model: "gpt-test", temperature: 0, messages }, { "x-cache-ttl": "600" });
  await chat({ model: "gpt-test", temperature: 0, messages });
  await chat({ model: "gpt-test", messages }, { "Cache-Control": "no-store" });
  await chat({ model: "gpt-test", messages, stream: true });
  await chat({ model: "no-such-model", messages });
  await chat({ model: "gpt-test", messages, test_double: { "*": { status: 500, message: "boom" } } });
  await chat({ model: "gpt-test", messages, test_double: { "*": { status: 400, message: "max_tokens too large" } } });
  await chat({ model: 5, messages });
  await chat({
    model: "gpt-test",
    messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "http://127.0.0.1/x.png" } }] }],
  });
  await call("POST", "/v1/chat/completions", { token: llmKey, raw: "{}", headers: { "content-type": "text/plain" } });
  await call("POST", "/v1/chat/completions", {
    token: otherKey.replace(/.$/, "x"),
    body: { model: "gpt-test", messages },
  });
  if ("/v1/embeddings" in paths) {
    const embed = (body: unknown, headers: Record<string, string> = {}) =>
      call("POST", "/v1/embeddings", { token: llmKey, body, headers });
    await embed({ model: "gpt-test", input: `contract ${Math.random()}` }, { "x-cache-ttl": "600" });
    await embed({ model: "gpt-test", input: ["a", "b"] }, { "Cache-Control": "no-cache" });
    await embed({ model: "no-such-model", input: "x" });
    await embed({ model: "gpt-test", input: 5 });
  }
  if ("/v1/completions" in paths) {
    const complete = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      call("POST", "/v1/completions", { token: llmKey, body, headers });
    await complete({ model: "gpt-test", prompt: `contract ${Math.random()}`, temperature: 0 });
    await complete({ model: "gpt-test", prompt: "stream me", stream: true });
    await complete({ model: "gpt-test", prompt: "x", test_double: { "*": { status: 500, message: "boom" } } });
    await complete({ model: "gpt-test", prompt: 5 });
  }
}
