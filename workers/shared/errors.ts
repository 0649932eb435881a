/**
 * The one error type every component throws for a client-visible failure.
 * The gateway's `app.onError` renders it in the public envelope
 * `{"error": {type, code, message, param, request_id}}` (see docs/api.md).
 */
export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "conflict_error"
  | "rate_limit_error"
  | "upstream_error"
  | "api_error";

const TYPE_BY_STATUS: Record<number, ErrorType> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  405: "invalid_request_error",
  409: "conflict_error",
  413: "invalid_request_error",
  415: "invalid_request_error",
  422: "invalid_request_error",
  429: "rate_limit_error",
  502: "upstream_error",
  504: "upstream_error",
};

export interface ApiErrorOptions {
  /** Dotted/bracketed path of the offending field, e.g. `messages[0].content[1].image_url.url`. */
  param?: string | null;
  headers?: Record<string, string>;
  /** Extra machine-readable fields merged into the error object (never secrets). */
  details?: Record<string, unknown>;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  readonly details: Record<string, unknown> | undefined;

  constructor(status: number, code: string, message: string, options: ApiErrorOptions = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.type = TYPE_BY_STATUS[status] ?? "api_error";
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    this.details = options.details;
  }
}

/** Renders a zod-style path as `a.b[0].c` (array indexes in brackets, record keys dotted). */
export function formatParam(path: ReadonlyArray<PropertyKey>, prefix = ""): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}
