/**
 * The HTTP routes of ComfyUI's server.py that the runner calls (also under /api/...): /system_stats, /models,
 * /object_info, /prompt, /queue, /history/{id}, POST /history, /interrupt, /view, /upload/image. Answered like aiohttp:
 * JSON with "application/json; charset=utf-8" (the same values; not json.dumps' spacing, which no client reads), empty 200/400/404 bodies, plain-text 500 "Server got itself in trouble",
 * "404: Not Found" / "405: Method Not Allowed", and the loopback Host/Origin check (403).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type FileStore, uploadImage } from "./files.ts";
import { type NodeClass, objectInfo } from "./nodes.ts";
import { pyBool, pyFloatValue, pyStr } from "./py.ts";
import type { QueueItem, Runtime } from "./runtime.ts";
import { MODEL_FOLDERS, SYSTEM_STATS } from "./server-info.ts";
import { ServerError, validatePrompt } from "./validate.ts";
import { viewAnswer } from "./view.ts";
import { SERVER_FEATURES } from "./ws.ts";

export const MAX_UPLOAD_SIZE = SERVER_FEATURES.max_upload_size;

export { MODEL_FOLDERS, SYSTEM_STATS };

const SENSITIVE_EXTRA_DATA_KEYS = ["auth_token_comfy_org", "api_key_comfy_org"];

export interface ServerHost {
  runtime(): Runtime;
  files: FileStore;
  registry: Map<string, NodeClass>;
  models: Record<string, string[]>;
  promptAccepted(entry: { prompt_id: string; number: number; client_id?: string; prompt: unknown }): void;
  uploaded(entry: { name: string; subfolder: string; type: string; bytes: Uint8Array }): void;
}

class HttpError extends Error {
  readonly status: number;
  readonly body: string;
  constructor(status: number, body = "") {
    super(`${status}`);
    this.status = status;
    this.body = body;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { "Content-Length": 0 });
  res.end();
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function sendBytes(res: ServerResponse, contentType: string, filename: string, bytes: Uint8Array): void {
  res.writeHead(200, {
    "Content-Type": contentType,
    "Content-Length": bytes.length,
    "Content-Disposition": `filename="${filename}"`,
  });
  res.end(bytes);
}

const INTERNAL_ERROR = "500 Internal Server Error\n\nServer got itself in trouble";

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_UPLOAD_SIZE) {
      throw new HttpError(413, `Maximum request body size ${MAX_UPLOAD_SIZE} exceeded, actual body size ${size}`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** aiohttp request.json(): any undecodable body is a 500 in ComfyUI's handlers */
function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(500, INTERNAL_ERROR);
  }
}

function asDict(v: unknown): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new HttpError(500, INTERNAL_ERROR);
  return v as Record<string, unknown>;
}

/** Python `for x in value` over a JSON value (used by /queue and /history deletes). */
function iterable(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === "string") return [...v];
  if (typeof v === "object" && v !== null) return Object.keys(v);
  throw new HttpError(500, INTERNAL_ERROR);
}

type Handler = (ctx: RequestContext) => Promise<void> | void;

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  host: ServerHost;
  rt: Runtime;
  body(): Promise<Buffer>;
}

type Route = readonly [method: string, pattern: RegExp, handler: Handler];

/** The route table (built once; read-only afterwards). */
const ROUTES: readonly Route[] = buildRoutes();

function buildRoutes(): Route[] {
  const routes: Route[] = [];
  const route = (method: string, pattern: RegExp, handler: Handler): void => {
    routes.push([method, pattern, handler]);
  };

  route("GET", /^\/system_stats$/, ({ res }) => sendJson(res, 200, SYSTEM_STATS));
  route("GET", /^\/models$/, ({ res }) => sendJson(res, 200, MODEL_FOLDERS));
  route("GET", /^\/models\/([^/]+)$/, ({ res, params, host }) => {
    const folder = params[0] as string;
    if (!MODEL_FOLDERS.includes(folder)) return sendEmpty(res, 404);
    sendJson(res, 200, [...(host.models[folder] ?? [])]);
  });
  route("GET", /^\/object_info$/, ({ res, host }) => sendJson(res, 200, objectInfo(host.registry)));
  route("GET", /^\/object_info\/([^/]+)$/, ({ res, params, host }) => {
    const name = params[0] as string;
    const info = host.registry.get(name)?.info();
    sendJson(res, 200, info === undefined ? {} : { [name]: info });
  });

  route("POST", /^\/prompt$/, async ({ res, rt, host, body }) => {
    const json = parseJson(await body());
    if (typeof json !== "object" || json === null) throw new HttpError(500, INTERNAL_ERROR);
    const data = json as Record<string, unknown>;
    let number: number;
    if (!Array.isArray(json) && "number" in data) {
      try {
        number = pyFloatValue(data.number);
      } catch {
        throw new HttpError(500, INTERNAL_ERROR);
      }
    } else {
      number = rt.number;
      if (!Array.isArray(json) && "front" in data && pyBool(data.front)) number = -number;
      rt.number++;
    }
    if (Array.isArray(json) || !("prompt" in data)) {
      const error = { type: "no_prompt", message: "No prompt provided", details: "No prompt provided", extra_info: {} };
      return sendJson(res, 400, { error, node_errors: {} });
    }
    const prompt = data.prompt;
    const promptId = "prompt_id" in data ? pyStr(data.prompt_id) : randomUUID();
    let valid: Awaited<ReturnType<typeof validatePrompt>>;
    try {
      valid = await validatePrompt({ registry: host.registry }, prompt, data.partial_execution_targets);
    } catch (error) {
      if (error instanceof ServerError) throw new HttpError(500, INTERNAL_ERROR);
      throw error;
    }
    let extraData: Record<string, unknown> = {};
    if ("extra_data" in data) extraData = asDict(data.extra_data);
    if ("client_id" in data) extraData.client_id = data.client_id;
    extraData.create_time = Date.now(); // ComfyUI 0.33 (not in 0.3.64)
    if (!valid.ok) return sendJson(res, 400, { error: valid.error, node_errors: valid.nodeErrors });
    const sensitive: Record<string, unknown> = {};
    for (const key of SENSITIVE_EXTRA_DATA_KEYS) {
      if (key in extraData) {
        sensitive[key] = extraData[key];
        delete extraData[key];
      }
    }
    const item: QueueItem = [number, promptId, prompt as QueueItem[2], extraData, valid.outputs, sensitive];
    host.promptAccepted({
      prompt_id: promptId,
      number,
      ...(typeof extraData.client_id === "string" ? { client_id: extraData.client_id } : {}),
      prompt: structuredClone(prompt),
    });
    rt.put(item);
    sendJson(res, 200, { prompt_id: promptId, number, node_errors: valid.nodeErrors });
  });

  route("GET", /^\/queue$/, ({ res, rt }) => {
    const q = rt.currentQueue();
    sendJson(res, 200, { queue_running: q.running, queue_pending: q.pending });
  });

  route("POST", /^\/queue$/, async ({ res, rt, body }) => {
    const data = asDict(parseJson(await body()));
    if ("clear" in data && pyBool(data.clear)) rt.wipeQueue();
    if ("delete" in data) {
      for (const id of iterable(data.delete)) rt.deleteQueueItem(id);
    }
    sendEmpty(res, 200);
  });

  route("GET", /^\/history\/([^/]+)$/, ({ res, rt, params }) => {
    const id = params[0] as string;
    const entry = rt.history.get(id);
    sendJson(res, 200, entry === undefined ? {} : { [id]: entry });
  });

  route("POST", /^\/history$/, async ({ res, rt, body }) => {
    const data = asDict(parseJson(await body()));
    if ("clear" in data && pyBool(data.clear)) rt.history.clear();
    if ("delete" in data) {
      for (const id of iterable(data.delete)) if (typeof id === "string") rt.history.delete(id);
    }
    sendEmpty(res, 200);
  });

  route("POST", /^\/interrupt$/, async ({ res, rt, body }) => {
    let data: unknown;
    try {
      data = JSON.parse((await body()).toString("utf8"));
    } catch {
      data = {};
    }
    const dict = asDict(data);
    const promptId = dict.prompt_id;
    if (pyBool(promptId)) {
      if (rt.runningPromptIds().some((id) => id === promptId)) rt.interrupt.flag = true;
    } else rt.interrupt.flag = true;
    sendEmpty(res, 200);
  });

  route("GET", /^\/view$/, ({ res, url, host }) => {
    const answer = viewAnswer(host.files, url.searchParams);
    if (answer.status !== 200) return sendEmpty(res, answer.status);
    sendBytes(res, answer.contentType, answer.filename, answer.bytes);
  });

  route("POST", /^\/upload\/image$/, async ({ req, res, host, body }) => {
    // multipart or urlencoded, parsed by undici (Response.formData) as aiohttp's request.post() would
    const form = await new Response(new Uint8Array(await body()), {
      headers: { "content-type": req.headers["content-type"] ?? "" },
    })
      .formData()
      .catch(() => {
        throw new HttpError(500, INTERNAL_ERROR);
      });
    const image = form.get("image");
    const field = (name: string): string | undefined => {
      const v = form.get(name);
      return typeof v === "string" ? v : undefined;
    };
    if (image === null || image === "") return sendEmpty(res, 400);
    if (typeof image === "string") throw new HttpError(500, INTERNAL_ERROR); // str has no .file
    const file = { filename: image.name, bytes: new Uint8Array(await image.arrayBuffer()) };
    const result = uploadImage(host.files, file, {
      type: field("type"),
      subfolder: field("subfolder"),
      overwrite: field("overwrite"),
    });
    if (result.status !== 200) {
      if (result.status === 500) throw new HttpError(500, INTERNAL_ERROR);
      return sendEmpty(res, result.status);
    }
    host.uploaded({ name: result.name, subfolder: result.subfolder, type: result.type, bytes: file.bytes });
    sendJson(res, 200, { name: result.name, subfolder: result.subfolder, type: result.type });
  });

  return routes;
}

export async function handleRequest(host: ServerHost, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const rt = host.runtime();
  await rt.stall.wait();
  if (rt.dead) return;
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  if (req.method === "OPTIONS") return sendEmpty(res, 200);
  let pathname = url.pathname;
  if (pathname.startsWith("/api/")) pathname = pathname.slice(4);
  let bodyPromise: Promise<Buffer> | undefined;
  const body = (): Promise<Buffer> => {
    bodyPromise ??= readBody(req);
    return bodyPromise;
  };
  const allowed: string[] = [];
  for (const [method, pattern, handler] of ROUTES) {
    const m = pattern.exec(pathname);
    if (m === null) continue;
    const methodOk = method === req.method || (method === "GET" && req.method === "HEAD");
    if (!methodOk) {
      allowed.push(method);
      continue;
    }
    const params = m.slice(1).map((p) => decodeURIComponent(p));
    try {
      await handler({ req, res, url, params, host, rt, body });
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        if (error.body) sendText(res, error.status, error.body);
        else sendEmpty(res, error.status);
        return;
      }
      sendText(res, 500, INTERNAL_ERROR);
    }
    return;
  }
  if (allowed.length > 0) {
    res.setHeader("Allow", allowed.join(","));
    return sendText(res, 405, "405: Method Not Allowed");
  }
  sendText(res, 404, "404: Not Found");
}
