import { z } from "zod";

/**
 * Any JSON value. Use it (not `z.unknown()`) for values that cross a Durable Object RPC boundary: typed
 * stubs (`DurableObjectStub<T>`) turn a result with a field typed `unknown` into `never`. The recursion
 * goes through interfaces, not a type alias, so the stubs' serialisability check stays within the
 * compiler's depth limit (a plain recursive alias such as zod's `JSONType` exceeds it).
 */
export type JsonValue = string | number | boolean | null | JsonArray | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}
export interface JsonArray extends Array<JsonValue> {}
export const JsonValue: z.ZodType<JsonValue> = z
  .lazy(() =>
    z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonValue), z.record(z.string(), JsonValue)]),
  )
  .meta({ id: "JsonValue" });

export const Scope = z.enum(["llm", "jobs"]);
export type Scope = z.infer<typeof Scope>;

/** Host pattern for allowlists: exact host or `*.example.com`. */
export const HostPattern = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\*\.)?[^\s/:@*]+$/, "must be a host name like images.example.com or a wildcard like *.example.com");

export const PoolName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,62}$/,
    "must be 1-63 lower-case letters, digits or '-', starting with a letter or digit",
  );

export const Limits = z
  .object({
    requests_per_minute: z.int().min(1).max(1_000_000).nullish(),
    max_queued_jobs: z.int().min(1).max(1_000_000).nullish(),
    max_running_jobs: z.int().min(1).max(100_000).nullish(),
    queue_timeout_s: z
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .nullish(),
    /** Longest run of one job attempt; the deployment's MAX_RUN_S applies when it is lower or this is unset. */
    max_run_s: z
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .nullish(),
  })
  .strict();

/** Groups of node classes a node policy can name at once (docs/node-policy.md). */
export const NODE_CLASS_GROUPS = ["file_readers", "writers", "api_nodes"] as const;
export type NodeClassGroup = (typeof NODE_CLASS_GROUPS)[number];

/** A node class name (`LoadVideo`), a group (`group:api_nodes`) or `*` (every class). */
export const NodeClassEntry = z
  .string()
  .min(1)
  .max(200)
  .regex(/^\P{Cc}+$/u, "must be a node class name without control characters")
  .refine(
    (s) => !s.startsWith("group:") || (NODE_CLASS_GROUPS as readonly string[]).includes(s.slice(6)),
    `must name a known group: ${NODE_CLASS_GROUPS.map((g) => `group:${g}`).join(", ")}`,
  );

/**
 * Which ComfyUI node classes a workflow may use (docs/node-policy.md). Within one policy an exact class
 * name beats a group, a group beats `*`, and deny beats allow at the same level.
 */
export const NodePolicy = z
  .object({
    allow: z.array(NodeClassEntry).max(2000).default([]),
    deny: z.array(NodeClassEntry).max(2000).default([]),
  })
  .strict()
  .meta({ id: "NodePolicy" });
export type NodePolicy = z.infer<typeof NodePolicy>;

export const ErrorEnvelope = z
  .object({
    error: z.object({
      type: z.string(),
      code: z.string(),
      message: z.string(),
      param: z.string().nullable(),
      request_id: z.string(),
    }),
  })
  .meta({ id: "Error" });
