/**
 * JSON-lines logger. Every line is one object: {time, level, msg, ...fields}. Secrets never reach the
 * output: registered secrets (the runner token) are replaced wherever they appear, and presigned URL
 * signatures and credentials are cut from any URL-looking text.
 */
import type { LogLevel } from "./config.ts";

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
  enabled(level: LogLevel): boolean;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const SIGNED_PARAM = /\b(X-Amz-(?:Signature|Credential|Security-Token)|Signature|sig|token)=[^&"\s\\]+/gi;

/** Removes query-string signatures and credentials from text that may contain URLs. */
export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(SIGNED_PARAM, "$1=REDACTED");
  for (const secret of secrets)
    if (secret.length >= 8 && out.includes(secret)) out = out.split(secret).join("REDACTED");
  return out;
}

/** A URL safe to log: origin and path, no query, no credentials. */
export function safeUrl(url: string | URL): string {
  try {
    const u = typeof url === "string" ? new URL(url) : url;
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "<invalid url>";
  }
}

function errorFields(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (value.cause !== undefined) out.cause = errorFields(value.cause);
    return out;
  }
  return value;
}

export interface LoggerOptions {
  level: LogLevel;
  secrets?: string[];
  /** Default: process.stdout. */
  write?: (line: string) => void;
  base?: LogFields;
}

export function createLogger(options: LoggerOptions): Logger {
  const min = RANK[options.level];
  const secrets = (options.secrets ?? []).filter((s) => s.length > 0);
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
      if (RANK[level] < min) return;
      const record: Record<string, unknown> = { time: new Date().toISOString(), level, msg, ...base };
      if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) record[k] = errorFields(v);
      let line: string;
      try {
        line = JSON.stringify(record);
      } catch {
        line = JSON.stringify({ time: record.time, level, msg, note: "fields were not serialisable" });
      }
      write(`${scrub(line, secrets)}\n`);
    };
    return {
      debug: (msg, fields) => emit("debug", msg, fields),
      info: (msg, fields) => emit("info", msg, fields),
      warn: (msg, fields) => emit("warn", msg, fields),
      error: (msg, fields) => emit("error", msg, fields),
      child: (fields) => make({ ...base, ...fields }),
      enabled: (level) => RANK[level] >= min,
    };
  };
  return make(options.base ?? {});
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
  enabled: () => false,
};
