/**
 * The LLM upstream double's `POST /v1/embeddings` and `POST /v1/completions` (what vLLM, Ollama and
 * LM Studio serve besides chat). Embeddings are a deterministic function of the input text; completions
 * answer `<double>#<seq>: <prompt>`, streamed when asked.
 */
import type http from "node:http";

/** The parts of the double's Behaviour these routes follow (failures and delays are handled before). */
interface RouteBehaviour {
  content?: string;
  ignoreStream?: boolean;
  errorEventAfterChunks?: number;
}

export interface RouteInput {
  res: http.ServerResponse;
  body: Record<string, unknown>;
  behaviour: RouteBehaviour;
  name: string;
  seq: number;
  send(res: http.ServerResponse, status: number, value: unknown): void;
}

const DIMENSIONS = 8;

/** A deterministic vector for a text: character codes folded into DIMENSIONS buckets, normalised. */
export function vectorOf(text: string): number[] {
  const v = new Array<number>(DIMENSIONS).fill(0);
  for (let i = 0; i < text.length; i++) v[i % DIMENSIONS]! += text.charCodeAt(i) / 1000;
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => Math.fround(x / norm));
}

function base64Floats(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString("base64");
}

function texts(input: unknown): string[] {
  if (typeof input === "string") return [input];
  if (Array.isArray(input)) return input.map((x) => (typeof x === "string" ? x : JSON.stringify(x)));
  return [JSON.stringify(input)];
}

function embeddings({ res, body, send }: RouteInput): void {
  const inputs = texts(body.input);
  const tokens = inputs.reduce((n, t) => n + Math.max(1, Math.ceil(t.length / 4)), 0);
  send(res, 200, {
    object: "list",
    model: String(body.model),
    data: inputs.map((text, index) => {
      const vector = vectorOf(text);
      return {
        object: "embedding",
        index,
        embedding: body.encoding_format === "base64" ? base64Floats(vector) : vector,
      };
    }),
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

function completions({ res, body, behaviour, name, seq, send }: RouteInput): void {
  const prompt = texts(body.prompt).join(" ");
  const text = behaviour.content ?? `${name}#${seq}: ${prompt}`;
  const id = `cmpl-${name}-${seq}`;
  const head = { id, object: "text_completion", created: 1_700_000_000 + seq, model: String(body.model) };
  const promptTokens = Math.max(1, Math.ceil(prompt.length / 4));
  const pieces = text.match(/.{1,4}/gs) ?? [""];
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: pieces.length,
    total_tokens: promptTokens + pieces.length,
  };
  if (body.stream !== true || behaviour.ignoreStream) {
    send(res, 200, { ...head, choices: [{ index: 0, text, logprobs: null, finish_reason: "stop" }], usage });
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const event = (value: unknown) => res.write(`data: ${JSON.stringify(value)}\n\n`);
  for (let i = 0; i < pieces.length; i++) {
    if (i === behaviour.errorEventAfterChunks) {
      res.end(`data: ${JSON.stringify({ error: { message: "model crashed", type: "server_error" } })}\n\n`);
      return;
    }
    event({ ...head, choices: [{ index: 0, text: pieces[i], logprobs: null, finish_reason: null }] });
  }
  event({ ...head, choices: [{ index: 0, text: "", logprobs: null, finish_reason: "stop" }] });
  const options = body.stream_options as { include_usage?: boolean } | undefined;
  if (options?.include_usage) event({ ...head, choices: [], usage });
  res.end("data: [DONE]\n\n");
}

export const EXTRA_ROUTES: Record<string, (input: RouteInput) => void> = {
  "/v1/embeddings": embeddings,
  "/v1/completions": completions,
};
