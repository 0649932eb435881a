/**
 * ComfyUI's HTTP API as the runner uses it (shapes as recorded in ../shared/comfyui-protocol/). Every answer
 * is parsed with zod. Failures to reach ComfyUI (refused, reset, timed out, 502/503/504 from a proxy) throw
 * ComfyUnavailableError; other unexpected answers throw ComfyProtocolError.
 */

import type { Workflow } from "@comfy-edge/shared/contract/jobs";
import { z } from "zod";
import { HttpError, type HttpResponse, parseJson, send, sendBytes, sendText } from "../http.ts";
import { NodeErrors } from "./errors.ts";
import { HistoryEntry, HistoryResponse } from "./history.ts";

export class ComfyUnavailableError extends Error {
  /** Nothing listened at the address (ComfyUI not running, or restarting). */
  readonly refused: boolean;
  constructor(message: string, options: { refused?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ComfyUnavailableError";
    this.refused = options.refused ?? false;
  }
}

export class ComfyProtocolError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = "ComfyProtocolError";
    this.status = status;
  }
}

const SystemStats = z.looseObject({
  system: z.looseObject({ comfyui_version: z.string().nullish() }).nullish(),
});

const UploadAnswer = z.looseObject({
  name: z.string().min(1),
  subfolder: z.string().nullish(),
  type: z.string().nullish(),
});

const PromptAccepted = z.looseObject({
  prompt_id: z.string().min(1),
  number: z.number().nullish(),
  node_errors: NodeErrors.nullish(),
});

const QueueAnswer = z.looseObject({
  queue_running: z.array(z.array(z.unknown())).default([]),
  queue_pending: z.array(z.array(z.unknown())).default([]),
});

const ObjectInfo = z.record(
  z.string(),
  z.looseObject({
    input: z
      .looseObject({
        required: z.record(z.string(), z.unknown()).nullish(),
        optional: z.record(z.string(), z.unknown()).nullish(),
      })
      .nullish(),
  }),
);

export type PostPromptResult =
  | { kind: "accepted"; promptId: string; nodeErrors: NodeErrors }
  | { kind: "rejected"; status: number; body: unknown; text: string };

export interface QueueState {
  running: string[];
  pending: string[];
}

export interface ViewRef {
  filename: string;
  subfolder: string;
  type: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;

function idsOf(rows: unknown[][]): string[] {
  const out: string[] = [];
  for (const row of rows) if (typeof row[1] === "string") out.push(row[1]);
  return out;
}

export class ComfyClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, options: { timeoutMs?: number } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  private unavailable(err: unknown, what: string): never {
    if (err instanceof HttpError && err.kind === "aborted") throw err;
    if (err instanceof HttpError) {
      throw new ComfyUnavailableError(`ComfyUI at ${this.baseUrl} did not answer ${what}: ${err.message}`, {
        refused: err.refused,
        cause: err,
      });
    }
    throw err;
  }

  private async call(
    method: string,
    path: string,
    options: {
      body?: string | Uint8Array | FormData;
      headers?: Record<string, string>;
      signal?: AbortSignal;
      timeoutMs?: number;
    },
  ) {
    let res: Awaited<ReturnType<typeof sendText>>;
    try {
      res = await sendText({
        method,
        url: `${this.baseUrl}${path}`,
        headers: options.headers,
        body: options.body,
        signal: options.signal,
        timeoutMs: options.timeoutMs ?? this.timeoutMs,
      });
    } catch (err) {
      this.unavailable(err, `${method} ${path.split("?")[0]}`);
    }
    if (res.status === 502 || res.status === 503 || res.status === 504) {
      throw new ComfyUnavailableError(`ComfyUI at ${this.baseUrl} answered ${method} ${path} with ${res.status}`);
    }
    return res;
  }

  private async json<T>(
    schema: z.ZodType<T>,
    method: string,
    path: string,
    options: { body?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const res = await this.call(method, path, {
      ...options,
      headers: options.body === undefined ? undefined : { "content-type": "application/json" },
    });
    if (res.status !== 200) {
      throw new ComfyProtocolError(`ComfyUI answered ${method} ${path.split("?")[0]} with ${res.status}`, res.status);
    }
    const parsed = schema.safeParse(parseJson(res.text));
    if (!parsed.success) {
      throw new ComfyProtocolError(`ComfyUI's answer to ${method} ${path.split("?")[0]} has an unexpected shape`, 200);
    }
    return parsed.data;
  }

  private async post(path: string, body: unknown, signal?: AbortSignal): Promise<void> {
    const res = await this.call("POST", path, {
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
      signal,
    });
    if (res.status !== 200)
      throw new ComfyProtocolError(`ComfyUI answered POST ${path} with ${res.status}`, res.status);
  }

  /** GET /system_stats: reachable, and which version. */
  async systemStats(signal?: AbortSignal): Promise<{ comfyuiVersion: string | null }> {
    const stats = await this.json(SystemStats, "GET", "/system_stats", { signal });
    return { comfyuiVersion: stats.system?.comfyui_version ?? null };
  }

  /** POST /upload/image (multipart), into `subfolder` of the input folder. ComfyUI may rename ("x (1).png") if a different file has the name. */
  async uploadImage(
    bytes: Uint8Array,
    filename: string,
    contentType: string,
    signal?: AbortSignal,
    subfolder = "",
  ): Promise<{ name: string; subfolder: string }> {
    const safeName = filename.replace(/["\r\n\\]/g, "_");
    const form = new FormData();
    form.append("image", new Blob([bytes as Uint8Array<ArrayBuffer>], { type: contentType }), safeName);
    form.append("type", "input");
    if (subfolder) form.append("subfolder", subfolder.replace(/[\r\n]/g, "_"));
    const res = await this.call("POST", "/upload/image", {
      body: form,
      signal,
      timeoutMs: Math.max(this.timeoutMs, 120_000),
    });
    if (res.status !== 200) {
      throw new ComfyProtocolError(`ComfyUI refused the input image ${safeName} (HTTP ${res.status})`, res.status);
    }
    const parsed = UploadAnswer.safeParse(parseJson(res.text));
    if (!parsed.success)
      throw new ComfyProtocolError("ComfyUI's answer to POST /upload/image has an unexpected shape", 200);
    return { name: parsed.data.name, subfolder: parsed.data.subfolder ?? "" };
  }

  /** POST /prompt with our client id and a prompt id chosen here (so a lost answer can be reconciled). */
  async postPrompt(
    prompt: Workflow,
    clientId: string,
    promptId: string,
    signal?: AbortSignal,
  ): Promise<PostPromptResult> {
    const res = await this.call("POST", "/prompt", {
      body: JSON.stringify({ prompt, client_id: clientId, prompt_id: promptId }),
      headers: { "content-type": "application/json" },
      signal,
    });
    const body = parseJson(res.text);
    if (res.status === 200) {
      const accepted = PromptAccepted.safeParse(body);
      if (!accepted.success)
        throw new ComfyProtocolError("ComfyUI's answer to POST /prompt has an unexpected shape", 200);
      return { kind: "accepted", promptId: accepted.data.prompt_id, nodeErrors: accepted.data.node_errors ?? {} };
    }
    return { kind: "rejected", status: res.status, body, text: res.text.slice(0, 2000) };
  }

  /** GET /history/{id}: the entry once the prompt finished, else null. */
  async history(promptId: string, signal?: AbortSignal): Promise<HistoryEntry | null> {
    const all = await this.json(HistoryResponse, "GET", `/history/${encodeURIComponent(promptId)}`, { signal });
    const raw = all[promptId];
    if (raw === undefined) return null;
    const entry = HistoryEntry.safeParse(raw);
    if (!entry.success) throw new ComfyProtocolError("a /history entry has an unexpected shape", 200);
    return entry.data;
  }

  /** GET /object_info/{class}: the names of the node class's inputs (required and optional); null if unknown. */
  async nodeInputs(classType: string, signal?: AbortSignal): Promise<Set<string> | null> {
    const all = await this.json(ObjectInfo, "GET", `/object_info/${encodeURIComponent(classType)}`, { signal });
    const info = all[classType];
    if (!info) return null;
    return new Set([...Object.keys(info.input?.required ?? {}), ...Object.keys(info.input?.optional ?? {})]);
  }

  /** GET /queue: prompt ids running and pending. */
  async queue(signal?: AbortSignal): Promise<QueueState> {
    const q = await this.json(QueueAnswer, "GET", "/queue", { signal });
    return { running: idsOf(q.queue_running), pending: idsOf(q.queue_pending) };
  }

  /** POST /queue {delete}: removes pending prompts (a running one is not affected). */
  deleteFromQueue(promptIds: string[], signal?: AbortSignal): Promise<void> {
    return this.post("/queue", { delete: promptIds }, signal);
  }

  /** POST /interrupt {prompt_id}: stops the prompt if it is the one running (ignored otherwise). */
  interrupt(promptId: string, signal?: AbortSignal): Promise<void> {
    return this.post("/interrupt", { prompt_id: promptId }, signal);
  }

  /** POST /history {delete}: forgets finished prompts (ComfyUI keeps up to 10,000 in memory). */
  deleteHistory(promptIds: string[], signal?: AbortSignal): Promise<void> {
    return this.post("/history", { delete: promptIds }, signal);
  }

  /** GET /view read whole, if at most `maxBytes` (else HttpError "too_large": use view()). */
  async viewBytes(
    ref: ViewRef,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<{ bytes: Buffer; contentType: string | null }> {
    const query = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder, type: ref.type });
    let res: Awaited<ReturnType<typeof sendBytes>>;
    try {
      res = await sendBytes(
        { method: "GET", url: `${this.baseUrl}/view?${query}`, signal, timeoutMs: Math.max(this.timeoutMs, 120_000) },
        maxBytes,
      );
    } catch (err) {
      if (err instanceof HttpError && err.kind === "too_large") throw err;
      this.unavailable(err, "GET /view");
    }
    if (res.status === 502 || res.status === 503 || res.status === 504) {
      throw new ComfyUnavailableError(`ComfyUI answered GET /view with ${res.status}`);
    }
    if (res.status !== 200) {
      throw new ComfyProtocolError(
        `ComfyUI has no file ${ref.type}/${ref.subfolder}/${ref.filename} (HTTP ${res.status})`,
        res.status,
      );
    }
    return { bytes: res.body, contentType: res.headers["content-type"] ?? null };
  }

  /** GET /view as a stream (the caller reads or destroys the body). 404 -> ComfyProtocolError. */
  async view(ref: ViewRef, signal?: AbortSignal): Promise<HttpResponse> {
    const query = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder, type: ref.type });
    let res: HttpResponse;
    try {
      res = await send({ method: "GET", url: `${this.baseUrl}/view?${query}`, signal, timeoutMs: this.timeoutMs });
    } catch (err) {
      this.unavailable(err, "GET /view");
    }
    if (res.status !== 200) {
      res.body.resume();
      if (res.status === 502 || res.status === 503 || res.status === 504) {
        throw new ComfyUnavailableError(`ComfyUI answered GET /view with ${res.status}`);
      }
      throw new ComfyProtocolError(
        `ComfyUI has no file ${ref.type}/${ref.subfolder}/${ref.filename} (HTTP ${res.status})`,
        res.status,
      );
    }
    return res;
  }
}
