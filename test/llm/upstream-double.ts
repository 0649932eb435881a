/**
 * A test double of an OpenAI-compatible LLM server (vLLM, Ollama, ...) on node:http, 127.0.0.1, port 0.
 * Speaks the chat completions wire format: JSON answers, SSE streams (with usage when
 * `stream_options.include_usage`), tool calls, `GET /v1/models`. Behaviour per request comes from the
 * request itself: the field `test_double: {"<double name>" | "*": Behaviour}` (an unknown field the
 * gateway forwards untouched), so tests running side by side never share state. Every request is logged.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { EXTRA_ROUTES } from "./upstream-double-routes.ts";

export interface Behaviour {
  /** Answer with this error status (JSON error body) instead of a completion. */
  status?: number;
  message?: string;
  /** The error's `param` (OpenAI and vLLM name the offending field there). */
  param?: string;
  retryAfter?: string;
  /** Put the request's Authorization header into the error message (to check the gateway scrubs it). */
  echoAuthorization?: boolean;
  /** Apply the failure (status or stream fault) only to the first N requests carrying this behaviour's `id`. */
  failTimes?: number;
  id?: string;
  /** Wait this long before sending the response headers. */
  delayMs?: number;
  /** Answer text (default: "<double>#<seq>: <last user text>"). */
  content?: string;
  /** Answer with one tool call instead of text. */
  toolCall?: { name: string; arguments: string };
  /** Stream: wait this long between chunks. */
  chunkDelayMs?: number;
  /** Stream: close the connection mid-body after this many content chunks (non-stream: before answering). */
  disconnectAfterChunks?: number;
  /** Stream: stop sending (without closing) after this many content chunks. */
  stallAfterChunks?: number;
  /** Stream: send an error event after this many content chunks, then end. */
  errorEventAfterChunks?: number;
  /** Stream: close cleanly without a finish_reason or [DONE] after this many content chunks. */
  truncateAfterChunks?: number;
  /** Non-stream: send the headers and half the body, then nothing more (without closing). */
  stallBody?: boolean;
  /** Answer JSON even when asked to stream. */
  ignoreStream?: boolean;
  /** Leave `usage` out. */
  noUsage?: boolean;
}

export interface LoggedRequest {
  double: string;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown> | null;
  at: number;
}

export interface DoubleOptions {
  name: string;
  models?: string[];
  /** Behaviour when the request names none. */
  defaults?: Behaviour;
  /** Shared request log (several doubles appending to one list show the order across them). */
  log?: LoggedRequest[];
  /** Keep a request log (default true; benchmarks turn it off). */
  record?: boolean;
}

export interface UpstreamDouble {
  name: string;
  /** Base URL as configured in LLM_UPSTREAMS (`http://127.0.0.1:<port>/v1`). */
  url: string;
  requests: LoggedRequest[];
  close(): Promise<void>;
}

function lastUserText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== "user") continue;
    if (typeof m.content === "string") return m.content;
    if (Array.isArray(m.content)) {
      return (m.content as Record<string, unknown>[])
        .filter((p) => p.type === "text")
        .map((p) => String(p.text))
        .join(" ");
    }
  }
  return "";
}

function pieces(text: string): string[] {
  const out = text.match(/.{1,4}/gs) ?? [];
  return out.length > 0 ? out : [""];
}

export async function startUpstreamDouble(options: DoubleOptions): Promise<UpstreamDouble> {
  const requests: LoggedRequest[] = [];
  const shared = options.log;
  const failures = new Map<string, number>();
  let seq = 0;

  function behaviourOf(body: Record<string, unknown> | null): Behaviour {
    const spec = (body?.test_double ?? {}) as Record<string, Behaviour>;
    return { ...options.defaults, ...(spec["*"] ?? {}), ...(spec[options.name] ?? {}) };
  }

  function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) {
    const text = JSON.stringify(value);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  function wait(ms: number, res: http.ServerResponse): Promise<boolean> {
    if (ms <= 0) return Promise.resolve(!res.destroyed);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(!res.destroyed), ms);
      res.once("close", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
  }

  /** Delay and failure behaviours common to every route; true when the request was answered (or abandoned). */
  async function failed(req: http.IncomingMessage, res: http.ServerResponse, b: Behaviour): Promise<boolean> {
    if (!(await wait(b.delayMs ?? 0, res))) return true;
    if (b.failTimes !== undefined) {
      const key = b.id ?? "";
      const used = failures.get(key) ?? 0;
      failures.set(key, used + 1);
      if (used >= b.failTimes) {
        // Healed: the same request now succeeds.
        b.status = undefined;
        b.disconnectAfterChunks = b.stallAfterChunks = b.errorEventAfterChunks = b.truncateAfterChunks = undefined;
      }
    }
    if (b.status === undefined || b.status === 200) return false;
    const auth = req.headers.authorization ?? "(none)";
    const message = b.echoAuthorization ? `bad credentials: Authorization: ${auth}` : (b.message ?? "double failure");
    sendJson(
      res,
      b.status,
      { error: { message, type: "server_error", param: b.param ?? null, code: null } },
      b.retryAfter ? { "retry-after": b.retryAfter } : {},
    );
    return true;
  }

  async function chat(req: http.IncomingMessage, res: http.ServerResponse, body: Record<string, unknown>) {
    const b = behaviourOf(body);
    if (await failed(req, res, b)) return;
    seq++;
    const model = String(body.model);
    const id = `chatcmpl-${options.name}-${seq}`;
    const created = 1_700_000_000 + seq;
    const content = b.content ?? `${options.name}#${seq}: ${lastUserText(body)}`;
    const promptTokens = Math.max(1, Math.ceil(JSON.stringify(body.messages ?? []).length / 4));
    const completionTokens = b.toolCall ? 7 : pieces(content).length;
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    const toolCalls = b.toolCall
      ? [{ id: `call_${seq}`, type: "function", function: { name: b.toolCall.name, arguments: b.toolCall.arguments } }]
      : undefined;
    const finish = toolCalls ? "tool_calls" : "stop";

    if (body.stream !== true || b.ignoreStream) {
      if (b.disconnectAfterChunks !== undefined) {
        res.destroy();
        return;
      }
      if (b.stallBody) {
        const text = JSON.stringify({ id, object: "chat.completion", created, model, choices: [] });
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.write(text.slice(0, 10));
        return;
      }
      sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: toolCalls ? null : content,
              ...(toolCalls ? { tool_calls: toolCalls } : {}),
            },
            logprobs: null,
            finish_reason: finish,
          },
        ],
        ...(b.noUsage ? {} : { usage }),
      });
      return;
    }

    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) =>
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] })}\n\n`;
    res.write(chunk({ role: "assistant", content: "" }));
    const deltas: Record<string, unknown>[] = toolCalls
      ? [
          {
            tool_calls: [
              { index: 0, id: toolCalls[0]!.id, type: "function", function: { name: b.toolCall!.name, arguments: "" } },
            ],
          },
          ...pieces(b.toolCall!.arguments).map((a) => ({ tool_calls: [{ index: 0, function: { arguments: a } }] })),
        ]
      : pieces(content).map((text) => ({ content: text }));
    let sent = 0;
    for (const delta of deltas) {
      if (sent === b.disconnectAfterChunks) {
        // Close the connection mid-body (what was written still arrives; the chunked body never ends).
        res.socket?.end();
        return;
      }
      if (sent === b.stallAfterChunks) return; // never ends; the gateway's idle timeout must
      if (sent === b.errorEventAfterChunks) {
        res.end(`data: ${JSON.stringify({ error: { message: "model crashed", type: "server_error" } })}\n\n`);
        return;
      }
      if (sent === b.truncateAfterChunks) {
        res.end();
        return;
      }
      if (!(await wait(b.chunkDelayMs ?? 0, res))) return;
      res.write(chunk(delta));
      sent++;
    }
    res.write(chunk({}, finish));
    const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
    if (streamOptions?.include_usage && !b.noUsage) {
      res.write(
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage })}\n\n`,
      );
    }
    res.end("data: [DONE]\n\n");
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: Record<string, unknown> | null = null;
      try {
        body = text === "" ? null : (JSON.parse(text) as Record<string, unknown>);
      } catch {
        body = null;
      }
      const entry = {
        double: options.name,
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body,
        at: Date.now(),
      };
      if (options.record !== false) {
        requests.push(entry);
        shared?.push(entry);
      }
      if (req.method === "GET" && req.url === "/v1/models") {
        sendJson(res, 200, {
          object: "list",
          data: (options.models ?? []).map((id) => ({ id, object: "model", owned_by: "double" })),
        });
        return;
      }
      const extra = req.method === "POST" && body ? EXTRA_ROUTES[req.url ?? ""] : undefined;
      if (extra && body) {
        const b = behaviourOf(body);
        failed(req, res, b)
          .then((done) => {
            if (done) return;
            seq++;
            extra({ res, body, behaviour: b, name: options.name, seq, send: sendJson });
          })
          .catch((err: unknown) => res.destroy(err instanceof Error ? err : new Error(String(err))));
        return;
      }
      if (req.method === "POST" && req.url === "/v1/chat/completions" && body) {
        chat(req, res, body).catch((err: unknown) => {
          res.destroy(err instanceof Error ? err : new Error(String(err)));
        });
        return;
      }
      sendJson(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    name: options.name,
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
