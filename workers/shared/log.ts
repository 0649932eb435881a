/**
 * One JSON line per log event from the Workers (Workers Logs indexes the fields). Every line names what it
 * is about: the request (`request_id`), the job (`job_id`) or, for a queue message that could not be read,
 * the message (`message_id`). Never pass secrets, request bodies or headers as fields.
 */

export type LogLevel = "info" | "warn" | "error";

/** What a line is about: at least one of these ids. */
export type LogScope =
  | { request_id: string; job_id?: string }
  | { job_id: string; request_id?: string; event_id?: string }
  | { message_id: string; queue?: string };

/** The line as written (pure). Fields never override the level, message or ids. */
export function logLine(level: LogLevel, scope: LogScope, msg: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...fields, level, msg, ...scope });
}

export function log(level: LogLevel, scope: LogScope, msg: string, fields: Record<string, unknown> = {}): void {
  const line = logLine(level, scope, msg, fields);
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
