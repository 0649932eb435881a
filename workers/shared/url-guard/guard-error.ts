import { ApiError } from "../errors.ts";
import type { UrlGuardErrorCode } from "./types.ts";

/** A guarded fetch that was refused or failed. `message` is safe to show (no credentials, no bodies). */
export class UrlGuardError extends Error {
  readonly code: UrlGuardErrorCode;

  constructor(code: UrlGuardErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UrlGuardError";
    this.code = code;
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
