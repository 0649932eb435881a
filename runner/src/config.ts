/**
 * Runner settings, read once at start from the environment and validated with zod. A bad or missing
 * variable fails fast with a message that names it.
 */
import { hostname } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { z } from "zod";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const httpUrl = (name: string, example: string) =>
  z
    .string({ message: `${name} is required (e.g. ${example})` })
    .trim()
    .min(1, `${name} is required (e.g. ${example})`)
    .refine((value) => {
      try {
        const url = new URL(value);
        return (url.protocol === "http:" || url.protocol === "https:") && url.username === "" && url.password === "";
      } catch {
        return false;
      }
    }, `${name} must be an http(s) URL without credentials, e.g. ${example}`)
    .transform((value) => value.replace(/\/+$/, ""));

const int = (name: string, min: number, max: number, fallback: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === "") return fallback;
      const n = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `${name} must be an integer from ${min} to ${max} (got "${value}")` });
        return z.NEVER;
      }
      return n;
    });

const flag = (name: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === "") return false;
      if (/^(true|1|yes|on)$/i.test(value)) return true;
      if (/^(false|0|no|off)$/i.test(value)) return false;
      ctx.addIssue({ code: "custom", message: `${name} must be true or false (got "${value}")` });
      return z.NEVER;
    });

/** A comma-separated list of absolute paths (one for every ComfyUI, or one per COMFYUI_URL entry). */
const pathList = (name: string, example: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === "") return [];
      const list = value.split(",").map((entry) => entry.trim());
      const bad = list.find((entry) => !isAbsolute(entry));
      if (bad !== undefined) {
        ctx.addIssue({
          code: "custom",
          message: `${name} must be absolute paths, comma-separated (one for every ComfyUI or one per COMFYUI_URL entry), e.g. ${example} (got "${bad}")`,
        });
        return z.NEVER;
      }
      return list.map((entry) => resolve(entry));
    });

/** How an operator mints a runner token (README, docs/runner.md): the CLI of a checkout, never `npx`. */
export const CREATE_TOKEN_HINT = "npm run cli -- runner-tokens create --pool <pool>";
const TOKEN_REQUIRED = `RUNNER_TOKEN is required (create one where the admin token is, in a checkout: ${CREATE_TOKEN_HINT})`;

const EnvSchema = z.object({
  GATEWAY_URL: httpUrl("GATEWAY_URL", "https://comfy-edge.example.com"),
  RUNNER_TOKEN: z
    .string({ message: TOKEN_REQUIRED })
    .trim()
    .min(1, TOKEN_REQUIRED)
    .refine((value) => !/\s/.test(value), "RUNNER_TOKEN must not contain spaces"),
  COMFYUI_URL: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      const list = (value === undefined || value === "" ? "http://127.0.0.1:8188" : value)
        .split(",")
        .map((entry) => entry.trim())
        .filter((entry) => entry !== "");
      const parsed: string[] = [];
      for (const entry of list) {
        const result = httpUrl("COMFYUI_URL", "http://127.0.0.1:8188,http://127.0.0.1:8189").safeParse(entry);
        if (!result.success) {
          ctx.addIssue({
            code: "custom",
            message: `COMFYUI_URL entry "${entry}" is not an http(s) URL (comma-separated, one per ComfyUI instance)`,
          });
          return z.NEVER;
        }
        parsed.push(result.data);
      }
      if (parsed.length === 0 || parsed.length > 64) {
        ctx.addIssue({ code: "custom", message: "COMFYUI_URL must list 1 to 64 ComfyUI URLs" });
        return z.NEVER;
      }
      return parsed;
    }),
  RUNNER_ID: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      const id = value === undefined || value === "" ? hostname() || "runner" : value;
      if (id.length > 128 || !/^[\w.:@-]+$/.test(id)) {
        ctx.addIssue({
          code: "custom",
          message: "RUNNER_ID must be 1-128 letters, digits or _ . : @ - (default: the host name)",
        });
        return z.NEVER;
      }
      return id;
    }),
  MAX_INPUT_BYTES: int("MAX_INPUT_BYTES", 1, 2 ** 40, 100 * 1024 * 1024),
  JOB_TIMEOUT_S: int("JOB_TIMEOUT_S", 1, 7 * 24 * 3600, 1800),
  METRICS_PORT: int("METRICS_PORT", 0, 65535, 9464),
  METRICS_HOST: z.string().trim().optional().default("127.0.0.1"),
  LOG_LEVEL: z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === "") return "info" as LogLevel;
      if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
      ctx.addIssue({ code: "custom", message: `LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")} (got "${value}")` });
      return z.NEVER;
    }),
  DRAIN_TIMEOUT_S: int("DRAIN_TIMEOUT_S", 0, 24 * 3600, 30),
  ALLOW_PRIVATE_URLS: flag("ALLOW_PRIVATE_URLS"),
  COMFYUI_DIR: pathList("COMFYUI_DIR", "/opt/ComfyUI"),
  COMFYUI_INPUT_DIR: pathList("COMFYUI_INPUT_DIR", "/data/comfyui/input"),
  COMFYUI_OUTPUT_DIR: pathList("COMFYUI_OUTPUT_DIR", "/data/comfyui/output"),
  COMFYUI_TEMP_DIR: pathList("COMFYUI_TEMP_DIR", "/data/comfyui/temp"),
  COMFYUI_MODELS_DIR: pathList("COMFYUI_MODELS_DIR", "/opt/ComfyUI/models"),
  MODEL_CACHE_GB: z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === "") return 20;
      const n = Number(value);
      if (!/^\d+(\.\d+)?$/.test(value) || !(n >= 0 && n <= 1_000_000)) {
        ctx.addIssue({
          code: "custom",
          message: `MODEL_CACHE_GB must be a number of gigabytes from 0 to 1000000 (got "${value}")`,
        });
        return z.NEVER;
      }
      return n;
    }),
});

/** ComfyUI's folders on this host (absolute paths), where the runner removes each job's files. */
export interface ComfyFolders {
  input: string;
  output: string;
  temp: string;
}

type Env = z.infer<typeof EnvSchema>;
const FOLDER_VARS = ["COMFYUI_INPUT_DIR", "COMFYUI_OUTPUT_DIR", "COMFYUI_TEMP_DIR"] as const;

/** One entry per ComfyUI: its folders, or null for all when none of the folder variables is set. */
function comfyFolders(e: Env, problems: string[]): Array<ComfyFolders | null> {
  const slots = e.COMFYUI_URL.length;
  const pick = (name: string, list: string[], index: number): string | undefined => {
    if (list.length === 0) return undefined;
    if (list.length !== 1 && list.length !== slots) {
      problems.push(`${name} lists ${list.length} paths for ${slots} COMFYUI_URL entries (give one, or one per URL)`);
      return undefined;
    }
    return list.length === 1 ? list[0] : list[index];
  };
  if (e.COMFYUI_DIR.length === 0 && FOLDER_VARS.every((name) => e[name].length === 0))
    return e.COMFYUI_URL.map(() => null);
  const missing = FOLDER_VARS.filter((name) => e.COMFYUI_DIR.length === 0 && e[name].length === 0);
  if (missing.length > 0) {
    problems.push(
      `${missing.join(", ")} not set: set COMFYUI_DIR (ComfyUI's folder holding input/, output/ and temp/) or all of ${FOLDER_VARS.join(", ")}`,
    );
    return e.COMFYUI_URL.map(() => null);
  }
  return e.COMFYUI_URL.map((_, index) => {
    const base = pick("COMFYUI_DIR", e.COMFYUI_DIR, index);
    const folder = (name: (typeof FOLDER_VARS)[number], sub: string) =>
      pick(name, e[name], index) ?? (base === undefined ? "" : join(base, sub));
    return {
      input: folder("COMFYUI_INPUT_DIR", "input"),
      output: folder("COMFYUI_OUTPUT_DIR", "output"),
      temp: folder("COMFYUI_TEMP_DIR", "temp"),
    };
  });
}

export interface RunnerConfig {
  gatewayUrl: string;
  runnerToken: string;
  /** One job slot per ComfyUI instance. */
  comfyUrls: string[];
  runnerId: string;
  maxInputBytes: number;
  jobTimeoutS: number;
  /** 0 = any free port (tests). */
  metricsPort: number;
  metricsHost: string;
  logLevel: LogLevel;
  /** How long running jobs may finish after SIGTERM before they are interrupted and given back. */
  drainTimeoutS: number;
  allowPrivateUrls: boolean;
  /** Per ComfyUI (same order as comfyUrls): its folders, where each job's files are removed; null = not set. */
  comfyFolders: Array<ComfyFolders | null>;
  /** ComfyUI's models folder (COMFYUI_MODELS_DIR, shared by every slot); null = no model downloads (docs/models.md). */
  modelsDir: string | null;
  /** MODEL_CACHE_GB in bytes: bound on models downloaded for jobs by URL. */
  modelCacheBytes: number;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid runner configuration:\n  - ${problems.join("\n  - ")}`);
    this.problems = problems;
  }
}

/** Parses the environment; throws ConfigError listing every bad variable by name. */
export function loadConfig(env: Record<string, string | undefined>): RunnerConfig {
  const result = EnvSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? "");
        return issue.message.includes(name) ? issue.message : `${name}: ${issue.message}`;
      }),
    );
  }
  const e = result.data;
  const problems: string[] = [];
  const folders = comfyFolders(e, problems);
  if (e.COMFYUI_MODELS_DIR.length > 1) problems.push("COMFYUI_MODELS_DIR must be one path (every slot shares it)");
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    gatewayUrl: e.GATEWAY_URL,
    runnerToken: e.RUNNER_TOKEN,
    comfyUrls: e.COMFYUI_URL,
    runnerId: e.RUNNER_ID,
    maxInputBytes: e.MAX_INPUT_BYTES,
    jobTimeoutS: e.JOB_TIMEOUT_S,
    metricsPort: e.METRICS_PORT,
    metricsHost: e.METRICS_HOST,
    logLevel: e.LOG_LEVEL,
    drainTimeoutS: e.DRAIN_TIMEOUT_S,
    allowPrivateUrls: e.ALLOW_PRIVATE_URLS,
    comfyFolders: folders,
    modelsDir: e.COMFYUI_MODELS_DIR[0] ?? null,
    modelCacheBytes: Math.round(e.MODEL_CACHE_GB * 1024 ** 3),
  };
}
