/**
 * The console's API client: the public API with the signed-in key, exactly as any client calls it. The key
 * lives in sessionStorage only (gone when the tab closes).
 */
export type Mode = "tenant" | "operator";
export interface Session {
  token: string;
  mode: Mode;
  label: string;
}

const STORE = "comfy-edge-console";

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORE);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<Session>;
    if (typeof s.token !== "string" || (s.mode !== "tenant" && s.mode !== "operator")) return null;
    return { token: s.token, mode: s.mode, label: typeof s.label === "string" ? s.label : "" };
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) sessionStorage.setItem(STORE, JSON.stringify(s));
  else sessionStorage.removeItem(STORE);
}

/** An error answer of the API (its `error` envelope), or a network failure. */
export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;
  readonly param: string | null;
  constructor(status: number, code: string, message: string, param: string | null = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

export interface Answer<T> {
  status: number;
  data: T;
  headers: Headers;
}

export interface CallInit {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export async function send(token: string, path: string, init: CallInit = {}): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...init.headers };
  let body: BodyInit | undefined;
  if (init.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.body);
  }
  try {
    return await fetch(path, { method: init.method ?? (body ? "POST" : "GET"), headers, body, signal: init.signal });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiFailure(0, "network_error", "The gateway could not be reached.");
  }
}

export async function failure(res: Response): Promise<ApiFailure> {
  const text = await res.text().catch(() => "");
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string; param?: string | null } }).error;
    if (e?.message) return new ApiFailure(res.status, e.code ?? "error", e.message, e.param ?? null);
  } catch {
    // not JSON: fall through
  }
  return new ApiFailure(res.status, "http_error", `HTTP ${res.status}`);
}

export async function call<T>(s: Session, path: string, init: CallInit = {}): Promise<Answer<T>> {
  const res = await send(s.token, path, init);
  if (!res.ok) throw await failure(res);
  return { status: res.status, data: (await res.json()) as T, headers: res.headers };
}

/** Like call(), but a 404 (an endpoint this deployment does not have yet) answers null. */
export async function optional<T>(s: Session, path: string): Promise<T | null> {
  try {
    return (await call<T>(s, path)).data;
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 404) return null;
    throw err;
  }
}

/** An output's bytes as an object URL (the download needs the Authorization header, so no plain src). */
export async function blobUrl(s: Session, path: string): Promise<string> {
  const res = await send(s.token, path);
  if (!res.ok) throw await failure(res);
  return URL.createObjectURL(await res.blob());
}
