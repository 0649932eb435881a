/** The one error type of the runner's HTTP clients (http.ts, http1.ts): the exchange failed before a complete answer. */
export type HttpErrorKind = "network" | "timeout" | "aborted" | "too_large" | "protocol";

export class HttpError extends Error {
  readonly kind: HttpErrorKind;
  /** The system error code when there is one (ECONNREFUSED, ECONNRESET, ...). */
  readonly code: string | undefined;
  /** The request went out on a kept-alive connection (a reset there is usually the server closing it idle). */
  readonly reused: boolean;
  /** Some of the answer had arrived (the request reached the server: do not send it again). */
  readonly answered: boolean;
  constructor(
    kind: HttpErrorKind,
    message: string,
    options: { code?: string; cause?: unknown; reused?: boolean; answered?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HttpError";
    this.kind = kind;
    this.code = options.code;
    this.reused = options.reused ?? false;
    this.answered = options.answered ?? false;
  }

  /** Nothing listens at the address (not started, or restarting). */
  get refused(): boolean {
    return this.code === "ECONNREFUSED";
  }

  /** A copy marked with how the connection was used. */
  withConnection(reused: boolean, answered: boolean): HttpError {
    return new HttpError(this.kind, this.message, { code: this.code, cause: this.cause, reused, answered });
  }
}
