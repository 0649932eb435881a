/** The one error type of the runner's HTTP client (http.ts): the exchange failed before a complete answer. */
export type HttpErrorKind = "network" | "timeout" | "aborted" | "too_large" | "protocol";

export class HttpError extends Error {
  readonly kind: HttpErrorKind;
  /** The system error code when there is one (ECONNREFUSED, ECONNRESET, ...). */
  readonly code: string | undefined;
  constructor(kind: HttpErrorKind, message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HttpError";
    this.kind = kind;
    this.code = options.code;
  }

  /** Nothing listens at the address (not started, or restarting). */
  get refused(): boolean {
    return this.code === "ECONNREFUSED";
  }
}
