import { ApiError } from "../errors.ts";
import type { UrlGuardErrorCode } from "./types.ts";

/** A guarded fetch that was refused or failed. `message` is safe to show (no credentials, no bodies). */
export class UrlGuardError extends Error {
  readonly code: UrlGuardErrorCode;
  /** The HTTP status the remote answered, when the failure was a non-2xx answer. */
  readonly status: number | undefined;

  constructor(code: UrlGuardErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.name = "UrlGuardError";
    this.code = code;
    this.status = options?.status;
  }

  /** Worth retrying later: timeouts, network failures, 429 and 5xx answers. */
  get transient(): boolean {
    if (this.code === "timeout") return true;
    if (this.code !== "fetch_failed") return false;
    return this.status === undefined || this.status === 429 || this.status >= 500;
  }
}

const STATUS_BY_CODE: Record<UrlGuardErrorCode, number> = {
  unsafe_url: 422,
  url_not_allowed: 422,
  too_large: 413,
  bad_content_type: 422,
  too_many_redirects: 422,
  fetch_failed: 502,
  timeout: 504,
};

/** Renders a UrlGuardError for a client request (e.g. a URL fetched while the client waits). */
export function urlGuardErrorToApiError(error: UrlGuardError, param: string | null = null): ApiError {
  return new ApiError(STATUS_BY_CODE[error.code], error.code, error.message, { param });
}
